// Keys hash into a fixed number of logical shards. The hash and the count are part of the data
// format: changing either would put existing rows on the wrong shard, so tests pin them forever.

export const LOGICAL_SHARD_COUNT = 4096;

const encoder = new TextEncoder();

/**
 * The logical shard (0–4095) of a key: 32-bit FNV-1a over the key's UTF-8 bytes, modulo 4096.
 * FNV-1a because it is tiny, has no dependency, and spreads short ids and emails evenly.
 */
export function logicalShardOf(key: string): number {
  if (typeof key !== "string") throw new TypeError(`shard key must be a string, got ${typeof key}`);
  let hash = 0x811c9dc5;
  for (const byte of encoder.encode(key)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % LOGICAL_SHARD_COUNT;
}

export function isLogicalShard(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) < LOGICAL_SHARD_COUNT;
}
