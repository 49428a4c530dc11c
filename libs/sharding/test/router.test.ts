import { requirePostgres } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ShardUnavailableError,
  createIdGenerator,
  createShardRouter,
  createTestShardMap,
  logicalShardOf,
  logicalShardOfId,
  migrate,
  physicalShardOf,
  singleShardMap,
} from "../src/index.ts";
import type { ShardRouter, TestShardMap } from "../src/index.ts";
import { PrismaClient } from "./example/generated/prisma/client.ts";
import { EXAMPLE_MIGRATIONS } from "./example/paths.ts";

const postgres = await requirePostgres();
const targets = [
  { kind: "postgres" as const, available: postgres.available },
  { kind: "pglite" as const, available: true },
];

describe.each(targets)("router over 2 physical shards ($kind)", ({ kind, available }) => {
  let shards: TestShardMap;
  let router: ShardRouter<PrismaClient>;
  const ids = createIdGenerator({ nodeId: 1 });

  beforeAll(async () => {
    if (!available) return;
    shards = await createTestShardMap({ kind, physical: 2 });
    await migrate({ map: shards.map, migrationsDir: EXAMPLE_MIGRATIONS });
    router = createShardRouter({ map: shards.map, createClient: (adapter) => new PrismaClient({ adapter }), mapRefreshMs: 0 });
  });

  afterAll(async () => {
    await router?.close();
    await shards?.drop();
  });

  it.skipIf(!available)("when accounts are written by key, each lands on the physical shard that owns its logical shard and reads back by id", async () => {
    const names = Array.from({ length: 40 }, (_, i) => `${kind}-owner-${i}`);
    const created = [];
    for (const name of names) {
      const id = ids.forKey(name);
      const logicalShard = logicalShardOf(name);
      await router.forKey(name).account.create({ data: { id: BigInt(id), logicalShard, name } });
      created.push({ id, name, shard: physicalShardOf(shards.map, logicalShard).name });
    }
    for (const { id, name } of created) {
      const found = await router.forId(id, { read: true }).account.findUnique({ where: { id: BigInt(id) } });
      expect(found?.name).toBe(name);
    }
    for (const { shard, client } of router.all()) {
      const here = await client.account.findMany({ where: { name: { startsWith: `${kind}-owner-` } }, select: { name: true } });
      expect(here.map((a) => a.name).sort()).toEqual(created.filter((c) => c.shard === shard).map((c) => c.name).sort());
    }
    // Both physical shards hold some of the rows: the keys really were spread.
    expect(new Set(created.map((c) => c.shard)).size).toBe(2);
  });

  it.skipIf(!available)("when a child row is made for a parent, it goes to the parent's shard and commits with it in one Prisma transaction", async () => {
    const accountId = ids.forKey(`${kind}-parent`);
    const logicalShard = logicalShardOfId(accountId);
    const entryIds = [ids.childOf(accountId), ids.childOf(accountId)];
    await router.forId(accountId).$transaction(async (tx) => {
      await tx.account.create({ data: { id: BigInt(accountId), logicalShard, name: `${kind}-parent` } });
      for (const id of entryIds) await tx.entry.create({ data: { id: BigInt(id), logicalShard, accountId: BigInt(accountId), amount: 5 } });
    });
    const account = await router.forId(entryIds[1]).account.findUnique({ where: { id: BigInt(accountId) }, include: { entries: true } });
    expect(account?.entries.map((e) => e.id.toString()).sort()).toEqual([...entryIds].sort());
  });

  it.skipIf(!available)("when a hot path uses raw SQL on the same shard, its transaction commits or rolls back as a whole and ids come back as bigint", async () => {
    const id = ids.forKey(`${kind}-raw`);
    const sql = router.sql.forId(id);
    await sql.query("insert into accounts (id, logical_shard, name, balance) values ($1, $2, $3, 10)", [id, logicalShardOfId(id), `${kind}-raw`]);
    await sql.transaction(async (tx) => {
      await tx.query("update accounts set balance = balance - 3 where id = $1", [id]);
    });
    await expect(
      sql.transaction(async (tx) => {
        await tx.query("update accounts set balance = balance - 100 where id = $1", [id]);
        throw new Error("insufficient funds");
      }),
    ).rejects.toThrow("insufficient funds");
    const { rows } = await router.sql.forKey(`${kind}-raw`).query<{ id: bigint; balance: number }>("select id, balance from accounts where id = $1", [id]);
    expect(rows).toEqual([{ id: BigInt(id), balance: 7 }]);
    // The Prisma client sees the raw write: same database, same pool.
    expect((await router.forId(id).account.findUnique({ where: { id: BigInt(id) } }))?.balance).toBe(7);
  });
});

describe("router when a shard cannot be reached", () => {
  it("when the shard's server refuses connections, Prisma and raw SQL calls fail with SHARD_UNAVAILABLE naming the shard", async () => {
    const router = createShardRouter({
      map: singleShardMap("postgres://postgres@127.0.0.1:1/nowhere", { name: "lost" }),
      createClient: (adapter) => new PrismaClient({ adapter }),
      mapRefreshMs: 0,
      connectTimeoutMs: 1000,
    });
    try {
      const viaPrisma = await router.forKey("k").account.findMany().then(() => undefined, (e: unknown) => e);
      expect(viaPrisma).toBeInstanceOf(ShardUnavailableError);
      expect((viaPrisma as ShardUnavailableError).code).toBe("SHARD_UNAVAILABLE");
      expect((viaPrisma as ShardUnavailableError).shard).toBe("lost");
      const viaSql = await router.sql.forKey("k").query("select 1").then(() => undefined, (e: unknown) => e);
      expect(viaSql).toBeInstanceOf(ShardUnavailableError);
      expect((viaSql as ShardUnavailableError).retryable).toBe(true);
    } finally {
      await router.close();
    }
  });
});
