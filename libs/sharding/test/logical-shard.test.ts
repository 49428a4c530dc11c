import { describe, expect, it } from "vitest";
import { LOGICAL_SHARD_COUNT, logicalShardOf } from "../src/index.ts";

describe("logical shards", () => {
  it("when a key is hashed, it lands on the pinned logical shard forever (FNV-1a 32 mod 4096)", () => {
    // These vectors are the data format: if one changes, existing rows would be on the wrong shard.
    const vectors: Array<[string, number]> = [
      ["", 3525],
      ["a", 2348],
      ["user:42", 2946],
      ["alice@example.com", 1350],
      ["event:taylor-swift-2027", 3516],
      ["évènement", 3251],
      ["0", 2223],
      ["4095", 3935],
    ];
    for (const [key, shard] of vectors) expect({ key, shard: logicalShardOf(key) }).toEqual({ key, shard });
  });

  it("when many keys are hashed, every logical shard gets a fair share", () => {
    const counts = new Array<number>(LOGICAL_SHARD_COUNT).fill(0);
    const n = 409_600;
    for (let i = 0; i < n; i++) counts[logicalShardOf(`user-${i}@example.com`)]++;
    expect(Math.min(...counts)).toBeGreaterThan(40);
    expect(Math.max(...counts)).toBeLessThan(180);
  });

  it("when the key is not a string, it says so instead of hashing garbage", () => {
    expect(() => logicalShardOf(42 as unknown as string)).toThrow(/string/);
  });
});
