// `npm run chaos [-- --faults gateway,users,…] [--buyers 12] [--rounds 3]`: starts the distributed
// platform (two of everything) on this machine's Redis and Postgres, and for each fault in turn
// runs a purchase spike, SIGKILLs one process of that kind, waits for recovery and checks the
// money-and-seats invariants in every shard's tables. Prints a markdown table; exits 1 when an
// invariant failed or a request went unanswered. Traffic only to 127.0.0.1; stops by itself.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { randomBytes } from "node:crypto";
import { CHAOS_FAULTS, chaosTable, runChaosFault, type ChaosFault, type ChaosRow } from "./distributed/chaos.ts";
import { DEFAULT_DISTRIBUTED_OPTIONS, startDistributedPlatform } from "./distributed/topology.ts";

const { values } = parseArgs({ options: { faults: { type: "string" }, buyers: { type: "string" }, rounds: { type: "string" } } });
const faults = (values.faults ? values.faults.split(",") : [...CHAOS_FAULTS]) as ChaosFault[];
const unknown = faults.filter((f) => !CHAOS_FAULTS.includes(f));
if (unknown.length) {
  console.error(`unknown fault(s): ${unknown.join(", ")}; known: ${CHAOS_FAULTS.join(", ")}`);
  process.exit(2);
}
const suffix = randomBytes(3).toString("hex");
const postgresUrl = process.env.POSTGRES_URL ?? DEFAULT_DISTRIBUTED_OPTIONS.postgresUrl;
const platform = await startDistributedPlatform({
  redisUrl: process.env.REDIS_URL ?? DEFAULT_DISTRIBUTED_OPTIONS.redisUrl,
  postgresUrl,
  busPrefix: `chaos_${suffix}`,
  databasePrefix: `bo_chaos_${suffix}`,
  stateDir: join(tmpdir(), `boxoffice_chaos_${suffix}`),
  port: 0,
  logLevel: "error",
  dropDatabasesOnStop: true,
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
    const row = await runChaosFault(platform, { fault, postgresUrl, organizerCookie, buyers: Number(values.buyers ?? 12), rounds: Number(values.rounds ?? 3), settleMs: 30_000 });
    rows.push(row);
    console.log(chaosTable([row]).split("\n").at(-1));
  }
} finally {
  await platform.stop();
}
console.log(`\n${chaosTable(rows)}`);
process.exitCode = rows.some((r) => r.violations.length > 0 || r.answered < r.requests) ? 1 : 0;
