// `npm run chaos [-- --faults gateway,users,…,redis,postgres,balancer] [--buyers 12] [--rounds 3]`:
// starts the distributed platform (two of everything) on a private redis-server of its own (so
// the redis fault can kill it; never the shared one) and this machine's Postgres, and for each
// fault in turn runs a purchase spike, injects the fault, waits for recovery and checks the
// money-and-seats invariants in every shard's tables. Prints a markdown table; exits 1 when an
// invariant failed, a request went unanswered or a 5xx other than 503 with Retry-After was
// answered. Traffic only to 127.0.0.1; stops by itself.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { randomBytes } from "node:crypto";
import { hasRedisServer, startPrivateRedis } from "@boxoffice/testkit";
import { CHAOS_FAULTS, chaosRefusals, chaosTable, runChaosFault, type ChaosFault, type ChaosRow } from "./distributed/chaos.ts";
import { DEFAULT_DISTRIBUTED_OPTIONS, startDistributedPlatform } from "./distributed/topology.ts";

const { values } = parseArgs({ options: { faults: { type: "string" }, buyers: { type: "string" }, rounds: { type: "string" } } });
const faults = (values.faults ? values.faults.split(",") : [...CHAOS_FAULTS]) as ChaosFault[];
const unknown = faults.filter((f) => !CHAOS_FAULTS.includes(f));
if (unknown.length) {
  console.error(`unknown fault(s): ${unknown.join(", ")}; known: ${CHAOS_FAULTS.join(", ")}`);
  process.exit(2);
}
if (!hasRedisServer()) {
  console.error("npm run chaos needs redis-server installed: it runs the platform on a private Redis it may kill");
  process.exit(2);
}
const suffix = randomBytes(3).toString("hex");
const redis = await startPrivateRedis();
// A failed start-up must not leave the private redis-server running.
process.once("exit", () => {
  if (redis.pid) process.kill(redis.pid, "SIGKILL");
});
const postgresUrl = process.env.POSTGRES_URL ?? DEFAULT_DISTRIBUTED_OPTIONS.postgresUrl;
const platform = await startDistributedPlatform({
  redisUrl: redis.url,
  postgresUrl,
  busPrefix: `chaos_${suffix}`,
  databasePrefix: `bo_chaos_${suffix}`,
  stateDir: join(tmpdir(), `boxoffice_chaos_${suffix}`),
  port: 0,
  logLevel: "error",
  dropDatabasesOnStop: true,
  // Ten processes starting on a machine that is busy with other work take minutes, not seconds.
  startTimeoutMs: 300_000,
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
const rows: ChaosRow[] = [];
try {
  const signIn = await fetch(`${platform.url}/api/session`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "organizer@boxoffice.test", password: "organizer-password" }),
  });
  const organizerCookie = signIn.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  for (const fault of faults) {
    const row = await runChaosFault(platform, { fault, postgresUrl, organizerCookie, buyers: Number(values.buyers ?? 12), rounds: Number(values.rounds ?? 3), settleMs: 30_000, redis });
    rows.push(row);
    console.log(chaosTable([row]).split("\n").at(-1));
  }
} finally {
  await platform.stop();
  await redis.stop();
}
console.log(`\n${chaosTable(rows)}\n\nAnswers other than success, per fault:\n${chaosRefusals(rows)}`);
process.exitCode = rows.some((r) => r.violations.length > 0 || r.answered < r.requests || Object.keys(r.other5xxKinds).length > 0) ? 1 : 0;
