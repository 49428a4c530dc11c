// Shard-aware 63-bit ids: the logical shard is inside the id, so any id routes to its shard
// without a lookup. 63 bits (not 64) so every id fits Postgres `bigint`; JSON carries them as
// decimal strings because JavaScript numbers lose precision above 2^53.
//
//   bit 62 ………… 22 | 21 … 17 | 16 … 12 | 11 … 0
//   ms since epoch  | sequence | node id  | logical shard
//     (41 bits)       (5 bits)   (5 bits)   (12 bits)
//
// The sequence sits above the node id and the shard so that ids of one process increase in the
// order they were made, whatever their shard. 41 bits of milliseconds last until 2095.
import { InvalidIdError } from "./errors.ts";
import { isLogicalShard, logicalShardOf } from "./logical-shard.ts";

/** 2026-01-01T00:00:00.000Z. Fixed forever: ids store time relative to it. */
export const ID_EPOCH_MS = Date.UTC(2026, 0, 1);
export const ID_NODE_BITS = 5;
export const ID_SEQUENCE_BITS = 5;
export const ID_SHARD_BITS = 12;
export const MAX_NODE_ID = (1 << ID_NODE_BITS) - 1;
const MAX_SEQUENCE = (1 << ID_SEQUENCE_BITS) - 1;
const LOW_BITS = BigInt(ID_SEQUENCE_BITS + ID_NODE_BITS + ID_SHARD_BITS);
const MAX_ID = (1n << 63n) - 1n;
const SHARD_MASK = (1n << BigInt(ID_SHARD_BITS)) - 1n;
/** An id whose time is further ahead than this was not made by this scheme (another epoch, or junk). */
const FUTURE_TOLERANCE_MS = 24 * 60 * 60 * 1000;

export interface DecodedId {
  /** Milliseconds since ID_EPOCH_MS. */
  readonly ms: number;
  readonly timestamp: Date;
  readonly sequence: number;
  readonly nodeId: number;
  readonly logicalShard: number;
}

export interface IdGenerator {
  /** A new id on the logical shard of `key` (e.g. a user's email, an event's slug). */
  forKey(key: string): string;
  /** A new id on the given logical shard (0–4095). */
  forShard(logicalShard: number): string;
  /** A new id on the same logical shard as `parentId` (a seat of an event, an order of a user). */
  childOf(parentId: string | bigint): string;
}

export interface IdGeneratorOptions {
  /** 0–31, unique among the live processes of one service (NODE_ID). Default 0. */
  nodeId?: number;
  /** Clock source, for tests. Default Date.now. */
  now?: () => number;
}

export function createIdGenerator(options: IdGeneratorOptions = {}): IdGenerator {
  const nodeId = options.nodeId ?? 0;
  if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId > MAX_NODE_ID) {
    throw new RangeError(`nodeId must be an integer 0–${MAX_NODE_ID}, got ${nodeId}`);
  }
  const now = options.now ?? Date.now;
  let lastMs = -1;
  let sequence = 0;
  const nodeBits = nodeId << ID_SHARD_BITS;

  function forShard(logicalShard: number): string {
    if (!isLogicalShard(logicalShard)) throw new RangeError(`logical shard must be an integer 0–4095, got ${logicalShard}`);
    const ms = now() - ID_EPOCH_MS;
    if (ms > lastMs) {
      lastMs = ms;
      sequence = 0;
    } else if (++sequence > MAX_SEQUENCE) {
      // Borrow the next millisecond instead of waiting for it: bursts never block, and the clock
      // catches up as soon as the burst ends. Ids stay unique and increasing.
      lastMs++;
      sequence = 0;
    }
    const low = (sequence << (ID_NODE_BITS + ID_SHARD_BITS)) | nodeBits | logicalShard;
    return ((BigInt(lastMs) << LOW_BITS) | BigInt(low)).toString();
  }

  return {
    forShard,
    forKey: (key) => forShard(logicalShardOf(key)),
    childOf: (parentId) => forShard(logicalShardOfId(parentId)),
  };
}

const DIGITS = /^[0-9]+$/;

function toBigInt(id: unknown): bigint {
  if (typeof id === "bigint") {
    if (id < 0n || id > MAX_ID) throw new InvalidIdError(id, "out of the 63-bit range");
    return id;
  }
  if (typeof id !== "string") throw new InvalidIdError(id, `expected a decimal string, got ${typeof id}`);
  if (id.length === 0 || id.length > 19 || !DIGITS.test(id)) throw new InvalidIdError(id, "expected 1–19 decimal digits");
  const value = BigInt(id);
  if (value > MAX_ID) throw new InvalidIdError(id, "out of the 63-bit range");
  return value;
}

function checkedMs(id: string | bigint, value: bigint): number {
  const ms = Number(value >> LOW_BITS);
  if (ID_EPOCH_MS + ms > Date.now() + FUTURE_TOLERANCE_MS) {
    throw new InvalidIdError(id, "its time lies in the future: not an id of this scheme (another epoch?)");
  }
  return ms;
}

/** Splits an id into its parts; throws InvalidIdError if malformed or not made with this epoch. */
export function decodeId(id: string | bigint): DecodedId {
  const value = toBigInt(id);
  const ms = checkedMs(id, value);
  const low = Number(value & ((1n << LOW_BITS) - 1n));
  return {
    ms,
    timestamp: new Date(ID_EPOCH_MS + ms),
    sequence: low >>> (ID_NODE_BITS + ID_SHARD_BITS),
    nodeId: (low >>> ID_SHARD_BITS) & MAX_NODE_ID,
    logicalShard: low & ((1 << ID_SHARD_BITS) - 1),
  };
}

/** The logical shard an id lives on (its low 12 bits); validates the id. */
export function logicalShardOfId(id: string | bigint): number {
  // On every routed call: validate and mask, without building the decoded object.
  const value = toBigInt(id);
  checkedMs(id, value);
  return Number(value & SHARD_MASK);
}
