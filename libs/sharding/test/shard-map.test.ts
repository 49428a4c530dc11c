import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ShardMapInvalidError, evenShardMap, loadShardMap, parseShardMap, physicalShardOf, reassignLogicalShard, singleShardMap } from "../src/index.ts";

function caught(fn: () => unknown): ShardMapInvalidError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ShardMapInvalidError);
    return error as ShardMapInvalidError;
  }
  throw new Error("expected a ShardMapInvalidError, got none");
}

describe("shard map", () => {
  it("when two shards split the logical shards, each logical shard has exactly one owner", () => {
    const map = parseShardMap({
      version: 3,
      shards: [
        { name: "a", primary: "postgres://db-a/app", replicas: ["postgres://db-a-replica/app"], logicalShards: [[0, 1023], [2048, 3071]] },
        { name: "b", primary: "pglite://memory", logicalShards: [[1024, 2047], [3072, 4095]] },
      ],
    });
    expect(map.version).toBe(3);
    expect(physicalShardOf(map, 0).name).toBe("a");
    expect(physicalShardOf(map, 1024).name).toBe("b");
    expect(physicalShardOf(map, 3000).name).toBe("a");
    expect(physicalShardOf(map, 4095).name).toBe("b");
    expect(map.shards[1].replicas).toEqual([]);
  });

  it("when logical shards are left out, the error names the gap", () => {
    const error = caught(() => parseShardMap({ shards: [{ name: "a", primary: "pglite://memory", logicalShards: [[0, 99], [200, 4095]] }] }));
    expect(error.code).toBe("SHARD_MAP_INVALID");
    expect(error.message).toContain("gap: logical shards 100-199");
  });

  it("when two shards claim the same logical shards, the error names the overlap and both shards", () => {
    const error = caught(() =>
      parseShardMap({
        shards: [
          { name: "a", primary: "pglite://memory", logicalShards: [[0, 2100]] },
          { name: "b", primary: "pglite://x", logicalShards: [[2048, 4095]] },
        ],
      }),
    );
    expect(error.message).toContain('logical shards 2048-2100 are owned by both "a" and "b"');
  });

  it("when a field is wrong, the error names the field", () => {
    expect(caught(() => parseShardMap({ shards: [{ name: "a", primary: "mysql://x", logicalShards: [[0, 4095]] }] })).message).toContain("shards.0.primary");
    expect(caught(() => parseShardMap({ shards: [{ name: "a", primary: "pglite://memory", logicalShards: [[0, 5000]] }] })).message).toContain("shards.0.logicalShards.0.1");
    expect(caught(() => parseShardMap({ shards: [] })).message).toContain("shards");
    expect(caught(() => parseShardMap("{not json")).message).toContain("not valid JSON");
    expect(
      caught(() =>
        parseShardMap({
          shards: [
            { name: "a", primary: "pglite://memory", logicalShards: [[0, 1]] },
            { name: "a", primary: "pglite://y", logicalShards: [[2, 4095]] },
          ],
        }),
      ).message,
    ).toContain('"a" twice');
  });

  it("when loaded from an env value or a file, both give the same map, and a missing file is a clear error", () => {
    const json = JSON.stringify({ version: 2, shards: [{ name: "only", primary: "postgres://h/db", logicalShards: [[0, 4095]] }] });
    const dir = mkdtempSync(join(tmpdir(), "shard-map-"));
    const file = join(dir, "map.json");
    writeFileSync(file, json);
    expect(loadShardMap({ env: json }).shards[0].name).toBe("only");
    expect(loadShardMap({ file }).version).toBe(2);
    expect(caught(() => loadShardMap({ file: join(dir, "missing.json") })).message).toContain("cannot read shard map file");
  });

  it("when built by the helpers, single and even maps cover every logical shard", () => {
    expect(singleShardMap("pglite://memory").shards[0].logicalShards).toEqual([[0, 4095]]);
    const even = evenShardMap(["pglite://memory/a", "pglite://memory/b", "pglite://memory/c"]);
    expect(even.shards.map((s) => s.logicalShards)).toEqual([[[0, 1365]], [[1366, 2731]], [[2732, 4095]]]);
  });

  it("when a logical shard is reassigned, only it changes owner and the version goes up", () => {
    const map = evenShardMap(["pglite://memory/a", "pglite://memory/b"]);
    const moved = reassignLogicalShard(map, 100, "shard1");
    expect(moved.version).toBe(map.version + 1);
    expect(physicalShardOf(moved, 100).name).toBe("shard1");
    expect(physicalShardOf(moved, 99).name).toBe("shard0");
    expect(moved.shards[0].logicalShards).toEqual([[0, 99], [101, 2047]]);
    expect(() => reassignLogicalShard(map, 1, "nope")).toThrow(ShardMapInvalidError);
  });
});
