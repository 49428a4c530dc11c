// The short chaos run CI can afford (npm run chaos runs every kind of process): the distributed
// platform under a purchase spike loses a payments instance to SIGKILL; every request is answered
// and the money-and-seats invariants hold in every shard's tables afterwards.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requirePostgres, requireRedis, uniqueName } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chaosTable, runChaosFault } from "../src/distributed/chaos.ts";
import { startDistributedPlatform, type DistributedPlatform } from "../src/distributed/topology.ts";

const redis = await requireRedis();
const postgres = await requirePostgres();

describe.skipIf(!redis.available || !postgres.available)("chaos (short)", () => {
  let platform: DistributedPlatform;
  beforeAll(async () => {
    platform = await startDistributedPlatform({
      redisUrl: redis.url,
      postgresUrl: postgres.url,
      busPrefix: uniqueName("chaos"),
      databasePrefix: uniqueName("bo_chaos"),
      stateDir: join(tmpdir(), uniqueName("boxoffice_chaos")),
      port: 0,
      logLevel: "error",
      dropDatabasesOnStop: true,
      startTimeoutMs: 100_000,
      env: {
        HOLD_TTL_SECONDS: "6",
        INVENTORY_CONSUMER_VISIBILITY_MS: "2000",
        INVENTORY_SWEEP_INTERVAL_MS: "500",
        PAYMENTS_LATENCY_MS: "200",
        PAYMENTS_RECONCILE_AFTER_MS: "5000",
        PAYMENTS_RECONCILE_INTERVAL_MS: "1000",
        RPC_DEADLINE_MS: "4000",
        USERS_SCRYPT_LOG_N: "10",
        SERVE_WEB: "false",
      },
    });
  }, 110_000);
  afterAll(async () => {
    await platform?.stop();
  }, 60_000);

  it("when a payments instance is SIGKILLed during a purchase spike, every request is answered and every captured payment ends confirmed or refunded", async () => {
    const signIn = await fetch(`${platform.url}/api/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "organizer@boxoffice.test", password: "organizer-password" }),
    });
    expect(signIn.status).toBe(200);
    const organizerCookie = signIn.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
    const row = await runChaosFault(platform, { fault: "payments", postgresUrl: postgres.url, organizerCookie, buyers: 6, rounds: 2, settleMs: 30_000 });
    const table = chaosTable([row]);
    expect(row.fault, table).toBe("SIGKILL payments#0");
    expect(row.answered, table).toBe(row.requests);
    expect(row.orders, table).toBeGreaterThan(0);
    expect(row.violations, table).toEqual([]);
  }, 110_000);
});
