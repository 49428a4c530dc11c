// Serialises messages at send time (so later mutation of the caller's object cannot leak into what
// is received), enforces the size limit, and optionally encrypts with key rotation.
import { createCipheriv, createDecipheriv, createHash, createSecretKey, randomFillSync } from "node:crypto";
import { Packr } from "msgpackr";
import { InvalidMessageError, MessageTooLargeError } from "./errors.ts";
import type { Message } from "./types.ts";

/** 1 MiB of content must fit, plus room for keys and envelope; 2 MiB must not. Measured as JSON. */
export const MAX_MESSAGE_JSON_BYTES = 1_536 * 1024;

// JSON can be at most ~6x the msgpack size (a control character is 1 byte packed, "\u0000" in
// JSON), so small packed messages skip the costly JSON measurement.
const JSON_TO_MSGPACK_WORST_RATIO = 6;

const IV_BYTES = 12;
const TAG_BYTES = 16;
const IVS_PER_DRAW = 256;

const packr = new Packr({ useRecords: false, moreTypes: false });

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function jsonSize(message: Message): number {
  const text = JSON.stringify(message, (_key, value: unknown) =>
    // A Uint8Array would stringify as an object of indices; count it as its bytes instead.
    value instanceof Uint8Array ? "x".repeat(Math.min(value.byteLength, MAX_MESSAGE_JSON_BYTES + 1)) : value,
  );
  return Buffer.byteLength(text, "utf8");
}

// Binary values come back as Buffer from msgpackr; callers were promised Uint8Array, and a plain
// Uint8Array view compares equal to what they sent.
function toPlainBinary(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.isBuffer(value) ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = toPlainBinary(value[i]);
    return value;
  }
  if (typeof value === "object" && value !== null) {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) record[key] = toPlainBinary(record[key]);
  }
  return value;
}

function hasBinMarker(data: Uint8Array): boolean {
  // Short messages (most): one loop beats three native calls.
  if (data.length > 512) return data.includes(0xc4) || data.includes(0xc5) || data.includes(0xc6);
  for (let i = 0; i < data.length; i++) {
    const byte = data[i];
    if (byte >= 0xc4 && byte <= 0xc6) return true;
  }
  return false;
}

export interface MessageCodec {
  encode(message: Message): Buffer;
  decode(data: Uint8Array): Message;
}

export function createMessageCodec(symmetricEncryptionKeys: string[] = []): MessageCodec {
  // KeyObjects made once: createCipheriv with a raw Buffer key turns it into one on every call, which
  // cost 3-6x the cipher itself per message (profiled in the checkout-cost bench, issue 13).
  const keys = symmetricEncryptionKeys.map((k) => createSecretKey(createHash("sha256").update(k).digest()));
  // IVs are fresh random bytes, drawn from the generator 256 at a time (a randomBytes(12) per
  // message was a quarter of encode's CPU); each slice of the pool is used for one message only.
  let ivPool = Buffer.alloc(0);
  let ivNext = 0;
  const encrypt = (plain: Buffer): Buffer => {
    if (ivNext + IV_BYTES > ivPool.length) {
      ivPool = randomFillSync(Buffer.allocUnsafe(IV_BYTES * IVS_PER_DRAW));
      ivNext = 0;
    }
    const iv = ivPool.subarray(ivNext, ivNext + IV_BYTES);
    ivNext += IV_BYTES;
    const cipher = createCipheriv("aes-256-gcm", keys[0], iv);
    const head = cipher.update(plain);
    const tail = cipher.final();
    const out = Buffer.allocUnsafe(IV_BYTES + TAG_BYTES + head.length + tail.length);
    iv.copy(out, 0);
    cipher.getAuthTag().copy(out, IV_BYTES);
    head.copy(out, IV_BYTES + TAG_BYTES);
    tail.copy(out, IV_BYTES + TAG_BYTES + head.length);
    return out;
  };
  const decrypt = (data: Uint8Array): Buffer => {
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const iv = buf.subarray(0, IV_BYTES);
    const tag = buf.subarray(IV_BYTES, IV_BYTES + TAG_BYTES);
    const body = buf.subarray(IV_BYTES + TAG_BYTES);
    for (const key of keys) {
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, iv);
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(body), decipher.final()]);
      } catch {
        // wrong key: try the next one (rotation keeps old keys for decryption only)
      }
    }
    throw new Error("message could not be decrypted with any of the symmetricEncryptionKeys");
  };
  return {
    encode(message) {
      if (!isPlainObject(message)) throw new InvalidMessageError("message", "must be a plain object");
      let packed: Buffer;
      try {
        packed = packr.pack(message);
      } catch (error) {
        throw new InvalidMessageError("message", `cannot be serialised (${(error as Error).message})`);
      }
      if (packed.length * JSON_TO_MSGPACK_WORST_RATIO > MAX_MESSAGE_JSON_BYTES || packed.length > MAX_MESSAGE_JSON_BYTES) {
        const size = jsonSize(message);
        if (size > MAX_MESSAGE_JSON_BYTES) throw new MessageTooLargeError(size, MAX_MESSAGE_JSON_BYTES);
      }
      return keys.length ? encrypt(packed) : packed;
    },
    decode(data) {
      const plain = keys.length ? decrypt(data) : data;
      const message = packr.unpack(plain) as Message;
      // Only bin values (first byte 0xc4-0xc6) need converting: a message whose bytes hold none of
      // those has none, and most messages (RPC envelopes) skip the walk over every value.
      return hasBinMarker(plain) ? (toPlainBinary(message) as Message) : message;
    },
  };
}
