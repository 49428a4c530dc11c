import { requirePostgres, waitFor } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShardingError, createIdGenerator, createShardRouter, createTestShardMap, migrate, moveLogicalShard, physicalShardOf } from "../src/index.ts";
import type { ShardMap, ShardRouter, TestShardMap } from "../src/index.ts";
import { PrismaClient } from "./example/generated/prisma/client.ts";
import { EXAMPLE_MIGRATIONS } from "./example/paths.ts";

const postgres = await requirePostgres();

// The lib's move on the example tables (schema public) with a router writing through Prisma.
// The CLI, and the services' own schemas under traffic, are proven in
// services/platform/test/shard-move.test.ts.
async function move(map: ShardMap, logical: number, to: string): Promise<string> {
  const result = await moveLogicalShard({ map, logicalShard: logical, to, schemas: ["public"], graceMs: 500 });
  return `moved logical shard ${logical} from ${result.from} to ${result.to}; map version ${result.map.version}`;
}
const targets = [
  { kind: "postgres" as const, available: postgres.available },
  { kind: "pglite" as const, available: true },
];

describe.each(targets)("moving a logical shard while writes run ($kind)", ({ kind, available }) => {
  let shards: TestShardMap;
  let router: ShardRouter<PrismaClient>;

  beforeAll(async () => {
    if (!available) return;
    shards = await createTestShardMap({ kind, physical: 2, prefix: "bo_move" });
    await migrate({ map: shards.map, migrationsDir: EXAMPLE_MIGRATIONS });
    router = createShardRouter({ map: shards.map, createClient: (adapter) => new PrismaClient({ adapter }), mapRefreshMs: 100 });
  });

  afterAll(async () => {
    await router?.close();
    await shards?.drop();
  });

  it.skipIf(!available)("when `shards move` runs during writes, every acknowledged row ends on the target exactly once and none stay behind", async () => {
    const logical = 77;
    expect(physicalShardOf(shards.map, logical).name).toBe("shard0");
    const ids = createIdGenerator({ nodeId: 4 });
    const acknowledged: string[] = [];
    const refused: Record<string, number> = {};
    let stop = false;

    async function write(): Promise<void> {
      const id = ids.forShard(logical);
      for (;;) {
        try {
          await router.forLogical(logical).$transaction(async (tx) => {
            await tx.account.create({ data: { id: BigInt(id), logicalShard: logical, name: `acct-${id}` } });
            await tx.entry.create({ data: { id: BigInt(ids.childOf(id)), logicalShard: logical, accountId: BigInt(id), amount: 1 } });
          });
          acknowledged.push(id);
          return;
        } catch (error) {
          if (!(error instanceof ShardingError) || !error.retryable) throw error;
          refused[error.code] = (refused[error.code] ?? 0) + 1;
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    }
    for (let i = 0; i < 50; i++) await write();
    const writers = Array.from({ length: 3 }, async () => {
      while (!stop) {
        await write();
        // PGlite answers without a trip through the event loop: yield, or the timers that end
        // this test (and the router's map polling) would never run.
        await new Promise((r) => setImmediate(r));
      }
    });

    const moved = await move(shards.map, logical, "shard1");
    expect(moved).toContain("moved logical shard 77 from shard0 to shard1; map version 2");

    // The writers' router learns the new map (polling, or a SHARD_MOVED answer), then keeps writing.
    await waitFor(() => router.map.version === 2, { what: "the router to adopt map version 2" });
    const afterMove = acknowledged.length;
    await waitFor(() => acknowledged.length >= afterMove + 30, { what: "writes after the move", timeoutMs: 30_000 });
    stop = true;
    await Promise.all(writers);

    const count = async (shard: string, table: string) =>
      (await router.sql.forShard(shard).query<{ id: bigint }>(`select id from ${table} where logical_shard = $1`, [logical])).rows.map((r) => r.id.toString());
    expect(await count("shard0", "accounts")).toEqual([]);
    expect(await count("shard0", "entries")).toEqual([]);
    const onTarget = await count("shard1", "accounts");
    expect(onTarget.length).toBe(acknowledged.length);
    expect(new Set(onTarget)).toEqual(new Set(acknowledged));
    expect((await count("shard1", "entries")).length).toBe(acknowledged.length);
    console.log(`[move ${kind}] ${acknowledged.length} rows acknowledged; retryable refusals during the move: ${JSON.stringify(refused)}`);
  });
});
