// `npm run bench -w @boxoffice/load-tests -- checkout-cost [--mode embedded|distributed]`: what a
// confirmed order costs. A purchase spike (the harness in src/on-sale.ts: BUYERS signed-in buyers,
// each reads the event page PAGE_READS times, holds 1 or 2 seats, pays) against one mode, and for
// the spike alone: confirmed orders/s, tickets/s, CPU milliseconds per confirmed order of every
// process (from /proc/<pid>/stat utime + stime before and after), and in distributed mode the top
// statements by total time from pg_stat_statements with calls per order.
//
// Distributed runs `start:distributed --instances 1 --gateways 1 --shards 1` against a private
// Postgres cluster (initdb into a temp dir with PG_BIN, shared_preload_libraries=pg_stat_statements,
// a free port; stopped by its PID at the end) and a private redis-server, so the CPU read from
// /proc is this platform's alone. Without those binaries it falls back to the shared servers and
// says so (no statements then, and Redis's CPU includes everyone's work).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import pg from "pg";
import { freePort, postgresUrl, redisUrl, uniqueName, writeBenchmarkSection } from "@boxoffice/testkit";
import { startChild, stopChild } from "./child-process.ts";
import {
  commandLineOf,
  costTable,
  costTableMarkdown,
  ownCpuMs,
  readProcessTable,
  runOnSale,
  statementsMarkdown,
  statementsPerOrder,
  treeCpuMs,
  type OnSaleReport,
  type StatementStat,
} from "../src/index.ts";

const root = join(import.meta.dirname, "..", "..");
const { values } = parseArgs({
  options: {
    mode: { type: "string" },
    buyers: { type: "string", default: process.env.BENCH_COST_BUYERS ?? "1500" },
    seats: { type: "string", default: process.env.BENCH_COST_SEATS ?? "1000" },
    concurrency: { type: "string", default: process.env.BENCH_COST_CONCURRENCY ?? "64" },
    "page-reads": { type: "string", default: process.env.BENCH_COST_PAGE_READS ?? "2" },
    // Open loop: buyers arrive at this rate whatever the answers (no bound on buyers in flight), so
    // orders/s shows the platform's capacity rather than --concurrency ÷ a buyer's time.
    "arrival-rate": { type: "string", default: process.env.BENCH_COST_ARRIVAL_RATE },
  },
  allowPositionals: true,
});
const BUYERS = Number(values.buyers);
const SEATS = Number(values.seats);
const CONCURRENCY = Number(values.concurrency);
const PAGE_READS = Number(values["page-reads"]);
const ARRIVAL_RATE = values["arrival-rate"] === undefined ? undefined : Number(values["arrival-rate"]);
if (ARRIVAL_RATE !== undefined && !(ARRIVAL_RATE > 0)) throw new Error(`--arrival-rate is buyers per second (> 0), not ${values["arrival-rate"]}`);
/** How buyers arrive, in words, for the log and the section. */
const ARRIVALS = ARRIVAL_RATE === undefined ? `${CONCURRENCY} at once` : `arriving at ${ARRIVAL_RATE} a second (open loop)`;
/** Nobody buying for this long right before the spike: the idle CPU column. */
const IDLE_WINDOW_MS = 5000;
/**
 * BENCH_COST_STATEMENTS_OF=<database> (e.g. payments): also lists every statement of that service's
 * databases, not only those in the top by time (a grouped statement with few calls drops out of it).
 * Printed only, never written to BENCHMARKS.md.
 */
const STATEMENTS_OF = process.env.BENCH_COST_STATEMENTS_OF;
const PG_BIN = process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin";
/**
 * BENCH_COST_PG_SETTINGS="name=value name=value": more settings for the private Postgres, to find
 * where its CPU goes (e.g. synchronous_commit=off prices the commits' WAL flushes). Named in the
 * section's notes, so a run with them is never taken for the platform's own figure.
 */
const EXTRA_PG_SETTINGS = (process.env.BENCH_COST_PG_SETTINGS ?? "").split(/\s+/).filter(Boolean);
/** Every buyer comes from 127.0.0.1, and accounts are set up before the spike with a cheap KDF. */
const PLATFORM_ENV = { USERS_SCRYPT_LOG_N: "10", QUEUE_JOINS_PER_ADDRESS_PER_MINUTE: "100000000", LOGIN_MAX_FAILURES_PER_ADDRESS: "100000000", LOG_LEVEL: "error" };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Server {
  url: string;
  /** The process whose tree is the server's CPU (postmaster, redis-server); undefined when shared. */
  pid?: number;
  note: string;
  stop(): Promise<void>;
}

/** initdb runs as a non-root user: as root, the cluster belongs to `postgres`. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(spawnSync("id", [flag, "postgres"], { encoding: "utf8" }).stdout.trim());
  const uid = id("-u");
  return Number.isInteger(uid) && uid > 0 ? { uid, gid: id("-g") } : undefined;
}

/** A private Postgres cluster with pg_stat_statements preloaded, or the shared server when the binaries are missing. */
async function startPostgres(): Promise<Server> {
  const user = postgresUser();
  if (!existsSync(join(PG_BIN, "initdb")) || (process.getuid?.() === 0 && !user)) {
    return { url: postgresUrl(), note: `the shared Postgres at ${postgresUrl()} (no ${PG_BIN}/initdb to start a private one: no statements, backends of other work not counted)`, stop: async () => {} };
  }
  const dir = mkdtempSync(join(tmpdir(), "boxoffice-cost-pg-"));
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, "data");
  const init = spawnSync(join(PG_BIN, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"], { ...user, encoding: "utf8" });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  const settings = ["listen_addresses=127.0.0.1", `unix_socket_directories=${dir}`, "shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all", "max_connections=200", ...EXTRA_PG_SETTINGS];
  const child = spawn(join(PG_BIN, "postgres"), ["-D", data, "-p", String(port), ...settings.flatMap((s) => ["-c", s])], { ...user, stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr?.on("data", (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  for (let attempt = 0; ; attempt++) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query("create extension if not exists pg_stat_statements");
      await client.end();
      break;
    } catch (error) {
      await client.end().catch(() => {});
      if (attempt > 100 || child.exitCode !== null) throw new Error(`private Postgres did not start: ${(error as Error).message}\n${log}`, { cause: error });
      await sleep(200);
    }
  }
  return {
    url,
    pid: child.pid,
    note: `a private Postgres 15 cluster (initdb in a temp dir, port ${port}, shared_preload_libraries=pg_stat_statements${EXTRA_PG_SETTINGS.map((s) => `, ${s}`).join("")}), stopped at the end`,
    async stop() {
      await stopChild(child, "SIGINT");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startRedis(): Promise<Server> {
  const which = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" });
  if (which.status !== 0) return { url: redisUrl(), note: `the shared Redis at ${redisUrl()} (its CPU includes other work)`, stop: async () => {} };
  const port = await freePort();
  const child = spawn(which.stdout.trim(), ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const url = `redis://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt++) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on("error", () => {}); // refused until the server listens: the loop retries
    try {
      await client.connect();
      await client.ping();
      client.disconnect();
      break;
    } catch (error) {
      client.disconnect();
      if (attempt > 50 || child.exitCode !== null) throw new Error(`private Redis did not start: ${(error as Error).message}`, { cause: error });
      await sleep(100);
    }
  }
  return { url, pid: child.pid, note: `a private redis-server (port ${port}, no persistence), stopped at the end`, stop: () => stopChild(child) };
}

/** pg_stat_statements since its reset, one row per statement and database. */
async function readStatements(url: string, databasePrefix: string): Promise<StatementStat[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string; query: string; calls: string; total: number; rows: string }>(
      `select d.datname, s.query, s.calls, s.total_exec_time as total, s.rows
         from pg_stat_statements s join pg_database d on d.oid = s.dbid
        where d.datname like $1`,
      [`${databasePrefix}%`],
    );
    return rows.map((r) => ({ database: r.datname.slice(databasePrefix.length + 1).replace(/_\d+$/, ""), query: r.query, calls: Number(r.calls), totalMs: r.total, rows: Number(r.rows) }));
  } finally {
    await client.end();
  }
}

async function resetStatements(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query("select pg_stat_statements_reset()");
  await client.end();
}

interface Run {
  mode: string;
  report: OnSaleReport;
  table: ReturnType<typeof costTable>;
  statements?: ReturnType<typeof statementsPerOrder>;
  /** Every statement of the BENCH_COST_STATEMENTS_OF databases. */
  statementsOf?: ReturnType<typeof statementsPerOrder>;
  generatorCpuMs: number;
  notes: string[];
}

/** Runs the spike against `baseUrl`, reading `sample()` (CPU ms by process name) around it. */
async function spike(mode: string, baseUrl: string, sample: () => Record<string, number>, statements?: { url: string; prefix: string }): Promise<Omit<Run, "notes">> {
  let before: Record<string, number> = {};
  let after: Record<string, number> = {};
  let generatorBefore = process.cpuUsage();
  let generatorCpuMs = 0;
  let idlePerSecond: Record<string, number> = {};
  console.log(`  ${mode}: signing in ${BUYERS} buyers, then the spike (${SEATS} seats, ${ARRIVALS})`);
  const report = await runOnSale({
    baseUrl,
    buyers: BUYERS,
    concurrency: CONCURRENCY,
    arrivalRatePerSecond: ARRIVAL_RATE,
    // Accounts are set up before the spike and not measured: as fast as the machine allows.
    signUpConcurrency: 48,
    seats: SEATS,
    quantity: (n) => (n % 2 === 0 ? 1 : 2),
    eventPageReads: PAGE_READS,
    maxDurationMs: 900_000,
    async onSpikeStart() {
      // What the platform burns with nobody buying (pollers, relays, reports), per second.
      const idleFrom = sample();
      const idleStarted = performance.now();
      await sleep(IDLE_WINDOW_MS);
      const idleTo = sample();
      const idleSeconds = (performance.now() - idleStarted) / 1000;
      idlePerSecond = Object.fromEntries(Object.entries(idleTo).map(([name, ms]) => [name, (ms - (idleFrom[name] ?? 0)) / idleSeconds]));
      if (statements) await resetStatements(statements.url);
      before = sample();
      generatorBefore = process.cpuUsage();
      // Wall-clock bounds, to cut the spike out of a --cpu-prof profile of the services.
      console.log(`  spike starts ${new Date().toISOString()}`);
    },
    onSpikeEnd() {
      after = sample();
      console.log(`  spike ends ${new Date().toISOString()}`);
      const used = process.cpuUsage(generatorBefore);
      generatorCpuMs = (used.user + used.system) / 1000;
    },
  });
  const table = costTable({ before, after, idlePerSecond, orders: report.outcomes.bought, tickets: report.ticketsSold, seconds: report.durationMs / 1000 });
  const stats = statements ? await readStatements(statements.url, statements.prefix) : undefined;
  const statementRows = stats ? statementsPerOrder(stats, report.outcomes.bought) : undefined;
  const of = stats?.filter((s) => s.database === STATEMENTS_OF);
  const statementsOf = of && of.length > 0 ? statementsPerOrder(of, report.outcomes.bought, of.length) : undefined;
  return { mode, report, table, statements: statementRows, statementsOf, generatorCpuMs };
}

async function embedded(): Promise<Run> {
  const dataDir = mkdtempSync(join(tmpdir(), "boxoffice-cost-"));
  const platform = await startChild(process.execPath, [join(root, "services/platform/src/main.ts")], { ...PLATFORM_ENV, PORT: "0", DATA_DIR: dataDir, FRESH: "true" }, /running at (http:\/\/\S+)\s+\(serving after/);
  try {
    const pid = platform.child.pid!;
    const run = await spike("embedded", platform.match[1].replace("localhost", "127.0.0.1"), () => ({ "platform (every service, gateway, PGlite: one process)": treeCpuMs(readProcessTable(), pid) }));
    return { ...run, notes: ["`npm start` in a child process: every service, the gateway and PGlite in one Node process, so one row."] };
  } finally {
    await stopChild(platform.child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function distributed(): Promise<Run> {
  const postgres = await startPostgres();
  const redis = await startRedis().catch(async (error: unknown) => {
    await postgres.stop();
    throw error;
  });
  const prefix = uniqueName("cost");
  let runner: ChildProcess | undefined;
  try {
    const started = await startChild(
      process.execPath,
      [join(root, "services/platform/src/distributed.ts"), "--prefix", prefix, "--db-prefix", prefix, "--instances", "1", "--gateways", "1", "--shards", "1"],
      { ...PLATFORM_ENV, PORT: "0", REDIS_URL: redis.url, POSTGRES_URL: postgres.url, SEED_DEMO: "false" },
      /browse\s+(http:\/\/\S+)[\s\S]*Ctrl-C/,
    );
    runner = started.child;
    const runnerPid = runner.pid!;
    // The runner's children are the services, the gateways and, when nginx is installed, the nginx
    // master (its workers below it); without nginx the load balancer runs in the runner itself.
    const table = readProcessTable();
    const children = [...table.values()].filter((p) => p.ppid === runnerPid);
    const nginxMaster = children.find((p) => p.comm === "nginx");
    const platformProcesses = children
      .filter((p) => p !== nginxMaster)
      .map((p) => {
        const service = /services\/(\w+)\/src\/main\.ts/.exec(commandLineOf(p.pid))?.[1] ?? `pid ${p.pid}`;
        return { pid: p.pid, name: service === "gateway" ? "gateway" : `${service} service` };
      });
    const balancerNote = nginxMaster
      ? "The load balancer is nginx (master and workers, reloaded workers included), a child of the runner; the runner's own row is its health checks and log relay."
      : "The load balancer is the Node one inside the start:distributed runner (nginx is not installed): its row is the runner's CPU.";
    const sample = () => {
      const now = readProcessTable();
      const cpu: Record<string, number> = nginxMaster
        ? { "load balancer (nginx: master and workers)": treeCpuMs(now, nginxMaster.pid), "start:distributed runner (Node: health checks, logs)": ownCpuMs(now, runnerPid) }
        : { "load balancer (Node, in the start:distributed runner)": ownCpuMs(now, runnerPid) };
      for (const p of platformProcesses) cpu[p.name] = ownCpuMs(now, p.pid);
      // The postmaster's tree with reaped children: every backend, exited ones included, and the background workers.
      if (postgres.pid) cpu["Postgres (postmaster, backends, background workers)"] = treeCpuMs(now, postgres.pid);
      if (redis.pid) cpu.Redis = ownCpuMs(now, redis.pid);
      return cpu;
    };
    const run = await spike("distributed", started.match[1], sample, postgres.pid ? { url: postgres.url, prefix } : undefined);
    return {
      ...run,
      notes: [
        `\`start:distributed --instances 1 --gateways 1 --shards 1\` in a child process; Postgres: ${postgres.note}; Redis: ${redis.note}.`,
        balancerNote,
        ...(postgres.pid ? [] : ["Postgres backends are not in the table: the shared server's postmaster runs every engineer's work."]),
      ],
    };
  } finally {
    if (runner) await stopChild(runner, "SIGINT");
    await redis.stop();
    await postgres.stop();
    rmSync(join(root, ".data", "distributed", prefix), { recursive: true, force: true });
  }
}

const modes = values.mode ? [values.mode] : ["embedded", "distributed"];
for (const mode of modes) {
  if (mode !== "embedded" && mode !== "distributed") throw new Error(`--mode is embedded or distributed, not ${mode}`);
  const loadAtStart = loadavg();
  const run = mode === "embedded" ? await embedded() : await distributed();
  const loadAtEnd = loadavg();
  const r = run.report;
  const lines = [
    `${BUYERS} signed-in buyers (set up before the spike, not measured) for a ${r.capacity}-seat event, ${ARRIVALS} (at most ${r.peakInFlight} in flight); each reads the event page ${PAGE_READS} times, holds 1 or 2 seats (alternately) and pays. Outcomes: ${Object.entries(r.outcomes).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(", ")}; ${r.ticketsSold} tickets sold, ${r.seatsAvailableAfter} seats left; server errors ${r.serverErrors}. Purchase (first hold to confirmed order, room wait included) p50 / p99 ${r.latencyMs.p50} / ${r.latencyMs.p99} ms; checkout alone (the admitted hold and the order) p50 / p99 ${r.checkoutMs.p50} / ${r.checkoutMs.p99} ms (the hold ${r.holdMs.p50} / ${r.holdMs.p99}, the order ${r.orderMs.p50} / ${r.orderMs.p99}); ${r.queued} buyers went through the waiting room (${r.waitingPolls} polls, wait p50 / p99 ${r.waitMs.p50} / ${r.waitMs.p99} ms). Seats were on sale for the first ${(r.sellingMs / 1000).toFixed(1)} s of the spike (to the last confirmed order): **${(r.outcomes.bought / (r.sellingMs / 1000)).toFixed(1)} confirmed orders/s** while selling.`,
    "",
    costTableMarkdown(run.table),
    "",
    ...(run.statements ? [statementsMarkdown(run.statements), ""] : []),
    ...run.notes,
    `The load generator (this bench, same cores, not in the table) used ${Math.round(run.generatorCpuMs)} ms of CPU during the spike. Load average (1, 5 min) at the start: ${loadAtStart[0].toFixed(1)}, ${loadAtStart[1].toFixed(1)}; at the end: ${loadAtEnd[0].toFixed(1)}, ${loadAtEnd[1].toFixed(1)} (other engineers' work shares the 2 cores).`,
  ];
  console.log(`\n${lines.join("\n")}`);
  if (run.statementsOf) {
    // Grouped statements (over unnest arrays) begin like their one-row form: say which is which.
    const grouped = { ...run.statementsOf, top: run.statementsOf.top.map((row) => (/\bunnest\(/.test(row.query) ? { ...row, query: `[grouped] ${row.query}` } : row)) };
    console.log(`\nEvery statement of the ${STATEMENTS_OF} databases (BENCH_COST_STATEMENTS_OF):\n${statementsMarkdown(grouped)}`);
  }
  if (r.errors.length > 0) console.error(`errors: ${r.errors.join("; ")}`);
  if (r.ticketsSold > r.capacity || r.ticketsSold + r.seatsAvailableAfter > r.capacity) {
    console.error("a seat was sold twice: not writing the figures");
    process.exitCode = 1;
    continue;
  }
  // An open-loop run has its own section: the closed-loop one stays comparable with earlier runs.
  if (ARRIVAL_RATE === undefined) writeBenchmarkSection(`checkout-cost-${mode}`, `Checkout cost: CPU per confirmed order, ${mode}`, `npm run bench -w @boxoffice/load-tests -- checkout-cost --mode ${mode}`, lines.join("\n"));
  else writeBenchmarkSection(`checkout-cost-${mode}-open-loop`, `Checkout cost, open loop: CPU per confirmed order, ${mode}`, `npm run bench -w @boxoffice/load-tests -- checkout-cost --mode ${mode} --buyers ${BUYERS} --seats ${SEATS} --arrival-rate ${ARRIVAL_RATE}`, lines.join("\n"));
}
