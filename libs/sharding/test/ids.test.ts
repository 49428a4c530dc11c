import { describe, expect, it } from "vitest";
import { ID_EPOCH_MS, InvalidIdError, createIdGenerator, decodeId, logicalShardOf, logicalShardOfId } from "../src/index.ts";

describe("shard-aware ids", () => {
  it("when an id is made for a key, it routes back to that key's logical shard without a lookup", () => {
    const ids = createIdGenerator({ nodeId: 7 });
    const id = ids.forKey("event:rock-night");
    expect(logicalShardOfId(id)).toBe(logicalShardOf("event:rock-night"));
    const decoded = decodeId(id);
    expect(decoded.nodeId).toBe(7);
    expect(Math.abs(decoded.timestamp.getTime() - Date.now())).toBeLessThan(60_000);
  });

  it("when a child is made for a parent, it lives on the parent's logical shard", () => {
    const ids = createIdGenerator({ nodeId: 1 });
    const event = ids.forShard(1234);
    const seat = ids.childOf(event);
    const hold = ids.childOf(BigInt(seat));
    expect([logicalShardOfId(seat), logicalShardOfId(hold)]).toEqual([1234, 1234]);
  });

  it("when a million ids are made in one burst, they are unique, increasing and sortable by time, and fit a signed bigint", () => {
    const ids = createIdGenerator({ nodeId: 3 });
    const n = 1_000_000;
    const values = new BigInt64Array(n);
    for (let i = 0; i < n; i++) values[i] = BigInt(ids.forShard(i % 4096));
    let previousMs = -1;
    for (let i = 1; i < n; i++) {
      if (values[i] <= values[i - 1]) throw new Error(`id ${i} (${values[i]}) is not greater than id ${i - 1} (${values[i - 1]})`);
    }
    for (let i = 0; i < n; i += 997) {
      const ms = decodeId(values[i]).ms;
      expect(ms).toBeGreaterThanOrEqual(previousMs);
      previousMs = ms;
    }
    expect(new Set(Array.from(values.subarray(0, 200_000), String)).size).toBe(200_000);
    expect(values[n - 1] > 0n).toBe(true);
  });

  it("when two processes make ids in the same millisecond, their node ids keep them apart", () => {
    const now = () => ID_EPOCH_MS + 5_000;
    const a = createIdGenerator({ nodeId: 1, now });
    const b = createIdGenerator({ nodeId: 2, now });
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      seen.add(a.forShard(9));
      seen.add(b.forShard(9));
    }
    expect(seen.size).toBe(20_000);
  });

  it("when an id is malformed, out of range or from another epoch, it is an INVALID_ID error", () => {
    const bad = ["", "abc", "-5", "12.5", "99999999999999999999", "9223372036854775808", String((BigInt(Date.now()) << 22n) | 5n)];
    for (const id of bad) {
      let error: unknown;
      try {
        decodeId(id);
      } catch (e) {
        error = e;
      }
      expect(error, `id ${JSON.stringify(id)}`).toBeInstanceOf(InvalidIdError);
      expect((error as InvalidIdError).code).toBe("INVALID_ID");
    }
    expect(() => logicalShardOfId(42 as unknown as string)).toThrow(InvalidIdError);
  });

  it("when the node id does not fit its bits, the generator refuses to start", () => {
    expect(() => createIdGenerator({ nodeId: 32 })).toThrow(/nodeId/);
    expect(() => createIdGenerator({ nodeId: -1 })).toThrow(/nodeId/);
  });
});
