import { requirePostgres } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createIdGenerator, createShardRouter, createTestShardMap, logicalShardOfId, mergeSortedPages, migrate, scatterGather } from "../src/index.ts";
import type { Page, PrismaAdapter, ShardRouter, TestShardMap } from "../src/index.ts";
import { PrismaClient } from "./example/generated/prisma/client.ts";
import type { Account } from "./example/generated/prisma/client.ts";
import { EXAMPLE_MIGRATIONS } from "./example/paths.ts";

const postgres = await requirePostgres();
// Postgres only: the same router code runs on PGlite in router.test.ts, and five embedded
// instances (3–4 s each, more on a loaded machine) would blow this file's time budget.
const targets = [{ kind: "postgres" as const, physical: 4, available: postgres.available }];

// Richest first, ties by id: a total order, so pages never repeat or skip a row.
const byBalanceDescId = (a: Account, b: Account) => b.balance - a.balance || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function pageOf(router: ShardRouter<PrismaClient>, cursor: string | null, limit: number): Promise<Page<Account>> {
  return scatterGather(
    router.all({ read: true }),
    ({ client }, page) => {
      const after = page.cursor ? page.cursor.split(":") : undefined;
      return client.account.findMany({
        where: after
          ? { OR: [{ balance: { lt: Number(after[0]) } }, { balance: Number(after[0]), id: { gt: BigInt(after[1]) } }] }
          : {},
        orderBy: [{ balance: "desc" }, { id: "asc" }],
        take: page.limit,
      });
    },
    { compare: byBalanceDescId, limit, cursor, cursorOf: (a) => `${a.balance}:${a.id}` },
  );
}

describe.each(targets)("scatter-gather over $physical physical shards ($kind)", ({ kind, physical, available }) => {
  let sharded: TestShardMap;
  let single: TestShardMap;
  let router: ShardRouter<PrismaClient>;
  let singleRouter: ShardRouter<PrismaClient>;

  beforeAll(async () => {
    if (!available) return;
    [sharded, single] = await Promise.all([createTestShardMap({ kind, physical, prefix: "bo_sg" }), createTestShardMap({ kind, physical: 1, prefix: "bo_sg1" })]);
    for (const map of [sharded.map, single.map]) await migrate({ map, migrationsDir: EXAMPLE_MIGRATIONS });
    const createClient = (adapter: PrismaAdapter) => new PrismaClient({ adapter });
    router = createShardRouter({ map: sharded.map, createClient, mapRefreshMs: 0 });
    singleRouter = createShardRouter({ map: single.map, createClient, mapRefreshMs: 0 });
    const ids = createIdGenerator({ nodeId: 2 });
    const rows = Array.from({ length: 240 }, (_, i) => {
      const id = ids.forKey(`holder-${i}`);
      // Few distinct balances so ties (broken by id) cross page and shard boundaries.
      return { id: BigInt(id), logicalShard: logicalShardOfId(id), name: `holder-${i}`, balance: (i * 7919) % 13 };
    });
    const byShard = new Map<PrismaClient, typeof rows>();
    for (const row of rows) {
      const client = router.forId(row.id);
      byShard.set(client, [...(byShard.get(client) ?? []), row]);
    }
    for (const [client, here] of byShard) await client.account.createMany({ data: here });
    await singleRouter.forKey("any").account.createMany({ data: rows });
  });

  afterAll(async () => {
    await router?.close();
    await singleRouter?.close();
    await sharded?.drop();
    await single?.drop();
  });

  it.skipIf(!available)("when pages are merged across shards, each page equals the single-database query over the same rows", async () => {
    const direct = await singleRouter.forKey("any").account.findMany({ orderBy: [{ balance: "desc" }, { id: "asc" }] });
    expect(new Set(router.all().map((s) => s.shard)).size).toBe(physical);
    const seen: Account[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const page: Page<Account> = await pageOf(router, cursor, 25);
      const expected = direct.slice(seen.length, seen.length + 25);
      expect(page.items.map((a) => a.name)).toEqual(expected.map((a) => a.name));
      seen.push(...page.items);
      cursor = page.nextCursor;
      if (cursor === null) break;
    }
    expect(seen.length).toBe(240);
    const first = await pageOf(singleRouter, null, 25);
    expect((await pageOf(router, null, 25)).items.map((a) => a.id)).toEqual(first.items.map((a) => a.id));
  });
});

describe("mergeSortedPages", () => {
  it("when pages are uneven or empty, the merge stays sorted and stops at the limit", () => {
    const cmp = (a: number, b: number) => a - b;
    expect(mergeSortedPages([[1, 4, 9], [], [2, 3, 10, 11], [5]], cmp, 6)).toEqual([1, 2, 3, 4, 5, 9]);
    expect(mergeSortedPages([[], []], cmp, 3)).toEqual([]);
  });
});
