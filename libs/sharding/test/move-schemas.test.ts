// The shard move carries a service's own schemas (not the connection's search path), refuses
// when the data and the map disagree, and a killed move or rebalance is finished or undone.
import { requirePostgres } from "@boxoffice/testkit";
import { afterEach, describe, expect, it } from "vitest";
import {
  ShardMapInvalidError,
  addShard,
  cleanupMovedCopies,
  createShardRouter,
  NOT_FENCED,
  evenShardMap,
  migrate,
  parseShardMap,
  createTestShardMap,
  moveLogicalShards,
  newestPublishedMap,
  ownedLogicalShards,
  physicalShardOf,
  planRebalance,
  rebalance,
  recoverInterruptedMoves,
  readStoredShardMap,
} from "../src/index.ts";
import type { ShardMap, SqlExecutor, TestShardMap } from "../src/index.ts";
import { EXAMPLE_MIGRATIONS } from "./example/paths.ts";

const postgres = await requirePostgres();

const LEDGER = `create schema if not exists ledger;
create table ledger.accounts (id bigint primary key, logical_shard int not null, name text not null);
create table ledger.entries (id bigint primary key, logical_shard int not null, account_id bigint not null references ledger.accounts (id), amount int not null);`;

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

async function shardsWithLedger(kind: "postgres" | "pglite", physical = 2): Promise<{ shards: TestShardMap; sql: (name: string) => SqlExecutor }> {
  const shards = await createTestShardMap({ kind, physical, prefix: "bo_moveschema" });
  const router = createShardRouter({ map: shards.map, createClient: () => undefined, mapRefreshMs: 0 });
  cleanup.push(async () => {
    await router.close();
    await shards.drop();
  });
  for (const s of shards.map.shards) await router.sql.forShard(s.name).exec(LEDGER);
  return { shards, sql: (name) => router.sql.forShard(name) };
}

async function seed(sql: SqlExecutor, logical: number, accounts: number): Promise<void> {
  for (let i = 0; i < accounts; i++) {
    const id = logical * 1000 + i;
    await sql.query("insert into ledger.accounts (id, logical_shard, name) values ($1, $2, $3)", [id, logical, `a${id}`]);
    await sql.query("insert into ledger.entries (id, logical_shard, account_id, amount) values ($1, $2, $1, 5)", [id, logical]);
  }
}

const count = async (sql: SqlExecutor, table: string, logical: number) =>
  Number((await sql.query<{ n: bigint }>(`select count(*) as n from ledger.${table} where logical_shard = $1`, [logical])).rows[0].n);

const targets = [
  { kind: "postgres" as const, available: postgres.available },
  { kind: "pglite" as const, available: true },
];

describe.each(targets)("a move of a service's schema ($kind)", ({ kind, available }) => {
  it.skipIf(!available)("when the service keeps its tables in its own schema, every row of the logical shard moves and none stays behind", async () => {
    const { shards, sql } = await shardsWithLedger(kind);
    await seed(sql("shard0"), 5, 12);
    await seed(sql("shard0"), 6, 3); // a neighbour that must not move
    const result = await moveLogicalShards({ map: shards.map, logicalShard: 5, to: "shard1", schemas: ["ledger"], graceMs: 0 });
    expect(result.rows).toEqual({ "ledger.accounts": 12, "ledger.entries": 12 });
    expect(await count(sql("shard0"), "accounts", 5)).toBe(0);
    expect(await count(sql("shard0"), "entries", 5)).toBe(0);
    expect(await count(sql("shard1"), "accounts", 5)).toBe(12);
    expect(await count(sql("shard1"), "entries", 5)).toBe(12);
    expect(await count(sql("shard0"), "accounts", 6)).toBe(3);
    expect(physicalShardOf((await readStoredShardMap(sql("shard1")))!, 5).name).toBe("shard1");
  });

  it.skipIf(!available)("when no table of the service's schemas is on the source, the move refuses and publishes nothing", async () => {
    const { shards, sql } = await shardsWithLedger(kind);
    await seed(sql("shard0"), 5, 2);
    await expect(moveLogicalShards({ map: shards.map, logicalShard: 5, to: "shard1", schemas: ["inventory"], graceMs: 0 })).rejects.toThrow(/found no table with a logical_shard column in schema\(s\) inventory/);
    expect(await readStoredShardMap(sql("shard0"))).toBeUndefined();
    expect(await count(sql("shard0"), "accounts", 5)).toBe(2);
  });

  it.skipIf(!available)("when the target lacks a table of the service, the move refuses and the source keeps taking writes", async () => {
    const { shards, sql } = await shardsWithLedger(kind);
    await sql("shard1").exec("drop table ledger.entries");
    await seed(sql("shard0"), 5, 2);
    await expect(moveLogicalShards({ map: shards.map, logicalShard: 5, to: "shard1", schemas: ["ledger"], graceMs: 0 })).rejects.toThrow(/lacks tables ledger.entries/);
    await seed(sql("shard0"), 5, 0);
    await sql("shard0").query("insert into ledger.accounts (id, logical_shard, name) values (99999, 5, 'after')");
    expect(await count(sql("shard0"), "accounts", 5)).toBe(3);
  });

  it.skipIf(!available)("when the data of a logical shard sits where the map does not say, the move refuses and publishes nothing", async () => {
    const { shards, sql } = await shardsWithLedger(kind);
    await seed(sql("shard1"), 5, 4); // map: shard0 owns 5, but its rows are on shard1
    const error = await moveLogicalShards({ map: shards.map, logicalShard: 5, to: "shard1", schemas: ["ledger"], graceMs: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShardMapInvalidError);
    expect((error as Error).message).toMatch(/no rows on its owner "shard0" but 8 on "shard1"/);
    expect(await readStoredShardMap(sql("shard1"))).toBeUndefined();
  });

  it.skipIf(!available)("when a process that never polls the map writes after a move, it is told SHARD_MOVED, reloads the map and its write lands on the new owner", async () => {
    const { shards, sql } = await shardsWithLedger(kind);
    await seed(sql("shard0"), 5, 1);
    const stale = createShardRouter({ map: shards.map, createClient: () => undefined, mapRefreshMs: 0 });
    cleanup.push(() => stale.close());
    expect(stale.sql.forLogical(5).shard).toBe("shard0");
    await moveLogicalShards({ map: shards.map, logicalShard: 5, to: "shard1", schemas: ["ledger"], graceMs: 0 });
    await stale.sql.forLogical(5).transaction(async (tx) => {
      await tx.query("insert into ledger.accounts (id, logical_shard, name) values (5555, 5, 'after the move')");
    });
    expect(stale.map.version).toBe(2);
    expect(await count(sql("shard1"), "accounts", 5)).toBe(2);
    expect(await count(sql("shard0"), "accounts", 5)).toBe(0);
  });

  it.skipIf(!available)("when a write meets a logical shard that is being moved, it waits for the fence to lift instead of failing", async () => {
    const { shards, sql } = await shardsWithLedger(kind);
    await seed(sql("shard0"), 5, 1);
    await moveLogicalShards({ map: shards.map, logicalShard: 6, to: "shard1", schemas: ["ledger"], graceMs: 0 }); // installs the fence machinery
    await sql("shard0").query("insert into public.boxoffice_shard_fence (logical_shard, state) values (5, 'moving')");
    const router = createShardRouter({ map: shards.map, createClient: () => undefined, mapRefreshMs: 0, moveWaitMs: 10_000 });
    cleanup.push(() => router.close());
    const write = router.sql.forLogical(5).query("insert into ledger.accounts (id, logical_shard, name) values (7777, 5, 'waited')");
    await new Promise((r) => setTimeout(r, 300));
    await sql("shard0").query("delete from public.boxoffice_shard_fence where logical_shard = 5");
    await write;
    expect(await count(sql("shard0"), "accounts", 5)).toBe(2);
  });

  it.skipIf(!available)("when a logical shard has moved away and its frozen copy waits out the grace period, whole-shard sweeps on the source skip it", async () => {
    const { shards, sql } = await shardsWithLedger(kind);
    await migrate({ map: shards.map, migrationsDir: EXAMPLE_MIGRATIONS }); // every migrated primary has the fence table
    await seed(sql("shard0"), 5, 2);
    await seed(sql("shard0"), 6, 3);
    const sweep = `update ledger.accounts set name = name || '!' where ${NOT_FENCED}`;
    expect((await sql("shard0").query(sweep)).rowCount).toBe(5);
    const result = await moveLogicalShards({ map: shards.map, logicalShard: 5, to: "shard1", schemas: ["ledger"], deferCleanup: true });
    expect(result.cleanedUp).toBe(false);
    expect(await count(sql("shard0"), "accounts", 5)).toBe(2); // the frozen copy is still there
    expect((await sql("shard0").query(sweep)).rowCount).toBe(3); // and the sweep leaves it alone
    await cleanupMovedCopies({ map: shards.map, schemas: ["ledger"], graceMs: 0 });
    expect(await count(sql("shard0"), "accounts", 5)).toBe(0);
  });

  it.skipIf(!available)("when a move was killed after fencing, recover lifts the fence, drops the partial copy, and the owner takes writes again", async () => {
    const { shards, sql } = await shardsWithLedger(kind);
    await seed(sql("shard0"), 5, 3);
    // What a killed move leaves: the fence up on the source, a copy on the target, the map unchanged.
    await moveLogicalShards({ map: shards.map, logicalShard: 6, to: "shard1", schemas: ["ledger"], graceMs: 0 }); // installs the fence machinery
    await sql("shard0").query("insert into public.boxoffice_shard_fence (logical_shard, state) values (5, 'moving')");
    await seed(sql("shard1"), 5, 3);
    await expect(sql("shard0").query("insert into ledger.accounts (id, logical_shard, name) values (1, 5, 'x')")).rejects.toThrow(/moving/);
    const result = await recoverInterruptedMoves({ map: shards.map, schemas: ["ledger"], graceMs: 0 });
    expect(result.undone).toEqual([5]);
    expect(await count(sql("shard1"), "accounts", 5)).toBe(0);
    expect(await count(sql("shard0"), "accounts", 5)).toBe(3);
    await sql("shard0").query("insert into ledger.accounts (id, logical_shard, name) values (1, 5, 'x')");
  });
});

describe("planning a rebalance", () => {
  function mapOf(owned: Array<[string, Array<[number, number]>]>): ShardMap {
    return { version: 1, shards: owned.map(([name, logicalShards]) => ({ name, primary: `postgres://h/${name}`, replicas: [], logicalShards })), owner: new Uint16Array() } as unknown as ShardMap;
  }

  it("when a third shard joins owning nothing, the plan gives it a third, taken from the ends of the others' ranges in batches", () => {
    const map = parseShardMap(mapOf([["a", [[0, 2047]]], ["b", [[2048, 4095]]], ["c", []]]));
    const plan = planRebalance(map, 64);
    const moved = new Map<string, number>();
    for (const step of plan) {
      expect(step.to).toBe("c");
      expect(step.logicalShards.length).toBeLessThanOrEqual(64);
      moved.set(step.from, (moved.get(step.from) ?? 0) + step.logicalShards.length);
    }
    expect(moved.get("a")! + moved.get("b")!).toBe(1365);
    expect(Math.abs(moved.get("a")! - moved.get("b")!)).toBeLessThanOrEqual(1);
    expect(plan[0].logicalShards).toContain(2047);
    expect(planRebalance(parseShardMap(mapOf([["a", [[0, 2047]]], ["b", [[2048, 4095]]]])))).toEqual([]);
  });
});

describe.skipIf(!postgres.available)("growing from 2 to 3 physical shards (postgres)", () => {
  it("when a shard is added and the store rebalanced, each owns a third, every row is in exactly one place, and a run stopped part-way resumes from the published map", async () => {
    const { shards, sql } = await shardsWithLedger("postgres", 3);
    // Start with a map of two shards; the third database exists but is not in the map yet.
    const two = evenShardMap(shards.urls.slice(0, 2));
    for (const l of [1, 2040, 2047, 4000, 4095]) await seed(sql(physicalShardOf(two, l).name), l, 2);
    const added = await addShard({ map: two, name: "shard2", url: shards.urls[2], migrationsDir: EXAMPLE_MIGRATIONS, service: "example" });
    expect(added.shards.map((s) => s.name)).toEqual(["shard0", "shard1", "shard2"]);
    expect(ownedLogicalShards(added).get("shard2")).toEqual([]);

    // A first run stops after two batches (as if killed); a second finishes from the published map.
    const first = await rebalance({ map: two, schemas: ["ledger"], batchSize: 256, pauseMs: 0, graceMs: 0, maxSteps: 2 });
    expect(first.remaining).toBeGreaterThan(0);
    const second = await rebalance({ map: two, schemas: ["ledger"], batchSize: 256, pauseMs: 0, graceMs: 0 });
    expect(second.remaining).toBe(0);
    const final = await newestPublishedMap(two);
    const sizes = [...ownedLogicalShards(final).values()].map((l) => l.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    await cleanupMovedCopies({ map: two, schemas: ["ledger"], graceMs: 0 });
    for (const l of [1, 2040, 2047, 4000, 4095]) {
      const owner = physicalShardOf(final, l).name;
      for (const name of ["shard0", "shard1", "shard2"]) expect(await count(sql(name), "accounts", l)).toBe(name === owner ? 2 : 0);
    }
    expect(planRebalance(final)).toEqual([]);
  });
});
