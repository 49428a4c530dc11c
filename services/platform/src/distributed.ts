// `npm run start:distributed`: the platform as separate OS processes on this machine — two
// gateways behind a load balancer, two instances of each service, each service on two Postgres
// databases — against Redis and Postgres on 127.0.0.1. Ctrl-C drains everything and exits 0.
// The only file of the distributed mode with side effects.
import { parseArgs } from "node:util";
import { seedDemoData } from "./demo-data.ts";
import { DEFAULT_DISTRIBUTED_OPTIONS, isCleanExit, startDistributedPlatform, type DistributedPlatform } from "./distributed/topology.ts";

const { values } = parseArgs({
  options: {
    instances: { type: "string" },
    gateways: { type: "string" },
    shards: { type: "string" },
    prefix: { type: "string" },
    "db-prefix": { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});

if (values.help) {
  console.log(`usage: npm run start:distributed -- [--instances 2] [--gateways 2] [--shards 2] [--prefix boxoffice] [--db-prefix boxoffice]
environment: REDIS_URL (${DEFAULT_DISTRIBUTED_OPTIONS.redisUrl}), POSTGRES_URL (${DEFAULT_DISTRIBUTED_OPTIONS.postgresUrl}),
             PORT (${DEFAULT_DISTRIBUTED_OPTIONS.port}), HOST, LOAD_BALANCER (auto: nginx when installed, else node), HOLD_TTL_SECONDS, LOG_LEVEL (${DEFAULT_DISTRIBUTED_OPTIONS.logLevel}), SEED_DEMO (true)`);
  process.exit(0);
}

function count(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 32) {
    console.error(`--${name} must be a whole number from 1 to 32, got "${value}"`);
    process.exit(2);
  }
  return n;
}

const env = process.env;

function balancerChoice(value: string | undefined): "auto" | "nginx" | "node" {
  if (value === undefined || value === "" || value === "auto" || value === "nginx" || value === "node") return (value || "auto") as "auto" | "nginx" | "node";
  console.error(`LOAD_BALANCER must be auto, nginx or node, got "${value}"`);
  process.exit(2);
}
const passThrough = Object.fromEntries(
  ["HOLD_TTL_SECONDS", "SESSION_KEYS", "SERVE_WEB", "RPC_DEADLINE_MS", "OTEL_EXPORTER_OTLP_ENDPOINT"].filter((key) => env[key] !== undefined).map((key) => [key, env[key] as string]),
);

let platform: DistributedPlatform | undefined;
let stopping = false;
let balancerStopped = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: draining the load balancer, the gateways, then the services…`);
  const { clean, exits } = platform ? await platform.stop() : { clean: true, exits: [] };
  balancerStopped = true;
  if (clean) console.log("stopped: every process drained and exited");
  else {
    const unclean = exits.filter((e) => !isCleanExit(e)).map((e) => `${e.name} ${e.killed ? "killed after the drain timeout" : `exited ${e.code ?? e.signal}`}`);
    console.log(`stopped: ${unclean.join(", ")}`);
  }
  process.exit(0);
}
const shutdownOrFail = (signal: string) =>
  shutdown(signal).catch((error: unknown) => {
    console.error("stop failed:", error);
    process.exit(1);
  });
process.on("SIGINT", () => shutdownOrFail("SIGINT"));
process.on("SIGTERM", () => shutdownOrFail("SIGTERM"));
// If this process dies another way, its children must not outlive it.
process.on("exit", () => {
  for (const child of platform?.processes ?? []) if (child.child.exitCode === null) child.child.kill("SIGKILL");
  // nginx (when it is the balancer) is this process's child too: stopped by its PID.
  const nginxPid = platform?.loadBalancerKind.pid;
  if (nginxPid !== undefined && !balancerStopped) {
    try {
      process.kill(nginxPid, "SIGTERM");
    } catch {
      // Already gone.
    }
  }
});

try {
  const started = Date.now();
  platform = await startDistributedPlatform({
    redisUrl: env.REDIS_URL ?? DEFAULT_DISTRIBUTED_OPTIONS.redisUrl,
    postgresUrl: env.POSTGRES_URL ?? DEFAULT_DISTRIBUTED_OPTIONS.postgresUrl,
    busPrefix: values.prefix ?? DEFAULT_DISTRIBUTED_OPTIONS.busPrefix,
    databasePrefix: values["db-prefix"] ?? DEFAULT_DISTRIBUTED_OPTIONS.databasePrefix,
    instances: count("instances", values.instances, DEFAULT_DISTRIBUTED_OPTIONS.instances),
    gateways: count("gateways", values.gateways, DEFAULT_DISTRIBUTED_OPTIONS.gateways),
    shardsPerService: count("shards", values.shards, DEFAULT_DISTRIBUTED_OPTIONS.shardsPerService),
    port: env.PORT === undefined ? DEFAULT_DISTRIBUTED_OPTIONS.port : Number(env.PORT),
    host: env.HOST ?? DEFAULT_DISTRIBUTED_OPTIONS.host,
    logLevel: env.LOG_LEVEL ?? DEFAULT_DISTRIBUTED_OPTIONS.logLevel,
    env: passThrough,
    loadBalancer: balancerChoice(env.LOAD_BALANCER),
  });
  const seeded = env.SEED_DEMO === "false" ? [] : await seedDemoData(platform.layer, undefined, platform.identity);
  const services = platform.processes.filter((p) => p.service !== "gateway").map((p) => p.name).join(", ");
  console.log(`
boxoffice is running distributed (${((Date.now() - started) / 1000).toFixed(1)} s):
  browse       ${platform.url}
  balancer     ${platform.loadBalancerKind.description}
  gateways     ${platform.processes.filter((p) => p.service === "gateway").map((p) => `${p.name} ${p.url}`).join(", ")}
  services     ${services}
  databases    ${platform.databases.join(", ")}
  shard maps   ${Object.values(platform.shardMapFiles).join(", ")}
  demo data    ${seeded.length > 0 ? `created ${seeded.length} event(s)` : "already there"}; organiser organizer@boxoffice.test / organizer-password, operator operator@boxoffice.test / operator-password
Ctrl-C stops everything.`);
} catch (error) {
  console.error(`start:distributed failed: ${(error as Error).message}`);
  if (platform) await platform.stop();
  process.exit(1);
}
