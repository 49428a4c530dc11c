// Waiting-room admissions: a short-lived proof, signed by the room (in the gateway tier) and
// verified locally where the hold happens (inventory), that one buyer may buy for one event until a
// time. An HMAC over a tiny payload: verifying costs microseconds and no round trip, like identity
// tokens, and a plain identity token alone never passes the line.
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from "node:crypto";
import { z } from "zod";

const VERSION = "a1";

/** A comma-separated list of 64-hex-digit keys: the first signs, all verify (rotation). */
export const admissionKeysSchema = z
  .string()
  .transform((value) => value.split(",").map((key) => key.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^[0-9a-fA-F]{64}$/, "each admission key is 32 bytes as 64 hex digits")).min(1));

export interface Admission {
  readonly userId: string;
  readonly eventId: string;
  /** Epoch ms after which the admission no longer admits. */
  readonly expiresAt: number;
}

export type AdmissionRejection = "missing" | "malformed" | "signature" | "expired" | "other_buyer" | "other_event";

export interface AdmissionKeys {
  sign(admission: Admission): string;
  /** The admission if the token is good for this buyer and event now; otherwise why not. */
  verify(token: string | undefined, expected: { userId: string; eventId: string; now?: number }): { ok: true; admission: Admission } | { ok: false; reason: AdmissionRejection };
}

const payloadSchema = z.object({ u: z.string().min(1), e: z.string().min(1), x: z.number().int() });

/** `keys` are hex strings (as parsed by admissionKeysSchema). */
export function createAdmissionKeys(keys: readonly string[]): AdmissionKeys {
  if (keys.length === 0) throw new TypeError("at least one admission key");
  // KeyObjects made once (a raw Buffer key is turned into one on every createHmac).
  const secrets = keys.map((hex) => createSecretKey(Buffer.from(hex, "hex")));
  const mac = (secret: KeyObject, body: string) => createHmac("sha256", secret).update(`${VERSION}.${body}`).digest();
  return {
    sign(admission) {
      const body = Buffer.from(JSON.stringify({ u: admission.userId, e: admission.eventId, x: Math.floor(admission.expiresAt) })).toString("base64url");
      return `${VERSION}.${body}.${mac(secrets[0], body).toString("base64url")}`;
    },
    verify(token, expected) {
      if (!token) return { ok: false, reason: "missing" };
      const parts = token.split(".");
      if (parts.length !== 3 || parts[0] !== VERSION) return { ok: false, reason: "malformed" };
      const [, body, signature] = parts;
      const given = Buffer.from(signature, "base64url");
      const good = secrets.some((secret) => {
        const wanted = mac(secret, body);
        return wanted.length === given.length && timingSafeEqual(wanted, given);
      });
      if (!good) return { ok: false, reason: "signature" };
      let payload: z.infer<typeof payloadSchema>;
      try {
        payload = payloadSchema.parse(JSON.parse(Buffer.from(body, "base64url").toString("utf8")));
      } catch {
        return { ok: false, reason: "malformed" };
      }
      if (payload.u !== expected.userId) return { ok: false, reason: "other_buyer" };
      if (payload.e !== expected.eventId) return { ok: false, reason: "other_event" };
      if (payload.x <= (expected.now ?? Date.now())) return { ok: false, reason: "expired" };
      return { ok: true, admission: { userId: payload.u, eventId: payload.e, expiresAt: payload.x } };
    },
  };
}
