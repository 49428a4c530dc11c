import { REQUIRE_SERVICES, postgresUrl, requirePostgres, uniqueName, waitFor } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createShardRouter, migrate, singleShardMap, withRequestContext } from "../src/index.ts";
import type { ShardRouter } from "../src/index.ts";
import { PrismaClient } from "./example/generated/prisma/client.ts";
import { EXAMPLE_MIGRATIONS } from "./example/paths.ts";
import { createStreamingReplica, replicaUnsupportedReason } from "./support/streaming-replica.ts";
import type { ReplicaPair } from "./support/streaming-replica.ts";

const postgres = await requirePostgres();
const unsupported = postgres.available ? replicaUnsupportedReason() : postgres.reason;
if (unsupported) {
  if (REQUIRE_SERVICES) throw new Error(`REQUIRE_SERVICES=1 but a streaming replica cannot be built: ${unsupported}`);
  console.warn(`[skip] replica routing tests: ${unsupported}`);
}

// Each read reports which server answered, so the test sees routing, not just data.
const WHO_AND_ROW = "select pg_is_in_recovery() as on_replica, (select count(*)::int from accounts where name = $1) as found";

describe.skipIf(unsupported !== undefined)("reads on a real streaming replica", () => {
  let pair: ReplicaPair;
  let router: ShardRouter<PrismaClient>;

  beforeAll(async () => {
    pair = await createStreamingReplica({
      sharedServerUrl: postgresUrl(),
      dbName: uniqueName("bo_replica"),
      // Long enough that a read right after a write cannot have been applied yet.
      applyDelay: "4s",
      prepare: async (primaryUrl) => {
        await migrate({ map: singleShardMap(primaryUrl), migrationsDir: EXAMPLE_MIGRATIONS });
      },
    });
    console.log(`[replica] primary from ${pair.source}`);
    router = createShardRouter({
      map: singleShardMap(pair.primaryUrl, { replicas: [pair.replicaUrl] }),
      createClient: (adapter) => new PrismaClient({ adapter }),
      readYourWritesMs: 60_000,
      mapRefreshMs: 0,
    });
    // The replica is up and streaming once it answers as a server in recovery.
    await waitFor(async () => (await router.sql.forKey("k", { read: true }).query<{ r: boolean }>("select pg_is_in_recovery() as r")).rows[0]?.r, { timeoutMs: 60_000, what: "replica in recovery" });
  });

  afterAll(async () => {
    await router?.close();
    await pair?.stop();
  });

  it("when a request has written, its reads see the write on the primary while unpinned reads go to the lagging replica", async () => {
    const name = uniqueName("buyer");
    await withRequestContext({ userId: "user-a" }, async () => {
      await router.sql.forKey(name).query("insert into accounts (id, logical_shard, name) values ($1, 1, $2)", [Date.now(), name]);
      const pinned = await router.sql.forKey(name, { read: true }).query<{ on_replica: boolean; found: number }>(WHO_AND_ROW, [name]);
      expect(pinned.rows[0]).toEqual({ on_replica: false, found: 1 });
    });
    // Another user's request (or no request context): replica, which has not applied the write yet.
    const other = await withRequestContext({ userId: "user-b" }, () => router.sql.forKey(name, { read: true }).query<{ on_replica: boolean; found: number }>(WHO_AND_ROW, [name]));
    expect(other.rows[0]).toEqual({ on_replica: true, found: 0 });
    // A later request of the same user, inside the read-your-writes window: still the primary.
    const again = await withRequestContext({ userId: "user-a" }, () => router.forKey(name, { read: true }).account.findMany({ where: { name } }));
    expect(again.map((a) => a.name)).toEqual([name]);
    // The replica catches up after its apply delay.
    await waitFor(async () => (await router.sql.forKey(name, { read: true }).query<{ found: number }>(WHO_AND_ROW, [name])).rows[0].found === 1, {
      timeoutMs: 30_000,
      what: "the replica to apply the write",
    });
  });

  it("when the read-your-writes window has passed, the user's reads go back to the replica", async () => {
    const shortWindow = createShardRouter({
      map: router.map,
      createClient: (adapter) => new PrismaClient({ adapter }),
      readYourWritesMs: 200,
      mapRefreshMs: 0,
    });
    try {
      await withRequestContext({ userId: "user-c" }, () => shortWindow.sql.forKey("x").query("select 1"));
      const read = () => withRequestContext({ userId: "user-c" }, () => shortWindow.sql.forKey("x", { read: true }).query<{ r: boolean }>("select pg_is_in_recovery() as r"));
      expect((await read()).rows[0].r).toBe(false);
      await waitFor(async () => (await read()).rows[0].r === true, { timeoutMs: 10_000, what: "reads to return to the replica" });
    } finally {
      await shortWindow.close();
    }
  });
});
