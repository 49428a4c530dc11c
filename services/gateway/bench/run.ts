// `npm run bench -w @boxoffice/gateway`: the gateway's figures in one run, written to BENCHMARKS.md.
//  1. cached GET /api/events/:id through the gateway vs a bare fastify returning the same bytes;
//  2. the uncached event page (cache TTL 0: two bus calls per request);
//  3. full purchases per second (sign in, hold, order) in embedded mode.
// Servers run as child processes (`npm start` itself, and the bare app); autocannon and the buyers
// run here. Everything on 127.0.0.1.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { Redis } from "ioredis";
import pg from "pg";
import { percentile, postgresUrl, redisUrl, requirePostgres, requireRedis, uniqueName, writeBenchmarkSection } from "@boxoffice/testkit";

const require = createRequire(import.meta.url);
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  non2xx: number;
  errors: number;
}
const autocannon = require("autocannon") as (options: Record<string, unknown>) => Promise<AutocannonResult>;

const root = join(import.meta.dirname, "..", "..", "..");
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ROUND_S = Number(process.env.BENCH_ROUND_S ?? 5);
const PURCHASE_S = Number(process.env.BENCH_PURCHASE_S ?? 15);
const BUYERS = Number(process.env.BENCH_BUYERS ?? 8);

function startChild(script: string, env: Record<string, string>, ready: RegExp, args: string[] = []): Promise<{ child: ChildProcess; match: RegExpExecArray; startupMs: number; output(): string }> {
  const started = Date.now();
  const child = spawn(process.execPath, [script, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let output = "";
    const onData = (data: Buffer) => {
      output += data.toString();
      const match = ready.exec(output);
      if (match) resolve({ child, match, startupMs: Date.now() - started, output: () => output });
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code} before it was ready:\n${output.slice(-2000)}`)));
  });
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill(signal);
  await exited;
}

async function load(url: string, title: string, duration = DURATION_S): Promise<AutocannonResult> {
  console.log(`autocannon ${title}: ${url} (${CONNECTIONS} connections, ${duration} s)`);
  const result = await autocannon({ url, connections: CONNECTIONS, duration, pipelining: 1 });
  if (result.non2xx > 0 || result.errors > 0) console.warn(`  ${title}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result;
}

/** Alternates bare and gateway runs so load from elsewhere on the machine hits both alike; medians. */
async function compare(bareUrl: string, gatewayUrl: string, title: string, rounds = 3): Promise<{ bare: AutocannonResult; gateway: AutocannonResult; ratio: number; perRound: number[] }> {
  const bare: AutocannonResult[] = [];
  const gateway: AutocannonResult[] = [];
  for (let round = 0; round < rounds; round++) {
    bare.push(await load(bareUrl, `bare fastify (round ${round + 1})`, ROUND_S));
    gateway.push(await load(gatewayUrl, `${title} (round ${round + 1})`, ROUND_S));
  }
  const median = (runs: AutocannonResult[]) => [...runs].sort((a, b) => a.requests.average - b.requests.average)[Math.floor(runs.length / 2)];
  const perRound = bare.map((b, i) => gateway[i].requests.average / b.requests.average);
  console.log(`  ${title} / bare fastify, per round: ${perRound.map((r) => r.toFixed(2)).join(", ")}`);
  const ratios = [...perRound].sort((a, b) => a - b);
  return { bare: median(bare), gateway: median(gateway), ratio: ratios[Math.floor(ratios.length / 2)], perRound };
}

function startPlatform(dataDir: string, extra: Record<string, string> = {}) {
  return startChild(join(root, "services/platform/src/main.ts"), { PORT: "0", DATA_DIR: dataDir, LOG_LEVEL: "error", ...extra }, /running at (http:\/\/\S+)\s+\(serving after ([\d.]+) s, demo data after ([\d.]+) s\)/);
}

async function json<T>(response: Response): Promise<T> {
  const text = await response.text();
  if (!response.ok) throw new Error(`${response.status} ${text}`);
  return JSON.parse(text) as T;
}

/** Events by title; waits until inventory has every demo event's seats. */
async function findEvents(base: string): Promise<Array<{ id: string; title: string; available: number }>> {
  for (let attempt = 0; attempt < 300; attempt++) {
    const { events } = await json<{ events: Array<{ id: string; title: string; available: number }> }>(await fetch(`${base}/api/events?limit=100`));
    if (events.length > 0 && events.every((e) => e.available > 0)) return events;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("the demo events never got their seats");
}

/**
 * A 20,000-seat event open for sale now, created by the demo organiser through the API (the demo's
 * own hot event opens minutes after the first start, to show the waiting room); waits for its seats.
 */
async function openHotEvent(base: string): Promise<string> {
  const session = await fetch(`${base}/api/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: "organizer@boxoffice.test", password: "organizer-password" }) });
  await json(session);
  const cookie = (session.headers.get("set-cookie") ?? "").split(";")[0];
  const { event } = await json<{ event: { id: string } }>(
    await fetch(`${base}/api/events`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie },
      body: JSON.stringify({
        title: `Bench Arena ${Date.now().toString(36)}`,
        venue: "Bench Arena",
        startsAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
        sections: [
          { name: "Floor", rows: 50, seatsPerRow: 100, priceCents: 12_000 },
          { name: "Lower Bowl", rows: 75, seatsPerRow: 100, priceCents: 8_500 },
          { name: "Upper Bowl", rows: 75, seatsPerRow: 100, priceCents: 4_500 },
        ],
      }),
    }),
  );
  for (let attempt = 0; attempt < 600; attempt++) {
    const { event: page } = await json<{ event: { available: number } }>(await fetch(`${base}/api/events/${event.id}`));
    if (page.available >= 20_000) return event.id;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("the bench's event never got its 20,000 seats");
}

async function purchaseFlows(base: string, eventId: string): Promise<{ purchases: number; seconds: number; flowMs: number[]; failures: Record<string, number> }> {
  const password = "bench-password";
  const emails = Array.from({ length: BUYERS * 4 }, (_, i) => `bench-${Date.now().toString(36)}-${i}@example.test`);
  // Accounts exist before the clock starts; signing in is part of each purchase.
  for (const email of emails) {
    await json(await fetch(`${base}/api/users`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password, displayName: "Bench" }) }));
  }
  const flowMs: number[] = [];
  const failures: Record<string, number> = {};
  let purchases = 0;
  const started = Date.now();
  const deadline = started + PURCHASE_S * 1000;
  let next = 0;
  const buyer = async () => {
    while (Date.now() < deadline) {
      const email = emails[next++ % emails.length];
      const t0 = performance.now();
      try {
        const session = await fetch(`${base}/api/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password }) });
        await json(session);
        const cookie = (session.headers.get("set-cookie") ?? "").split(";")[0];
        const { hold } = await json<{ hold: { id: string } }>(await fetch(`${base}/api/events/${eventId}/holds`, { method: "POST", headers: { "content-type": "application/json", cookie }, body: JSON.stringify({ quantity: 1 }) }));
        await json(await fetch(`${base}/api/orders`, {
          method: "POST",
          headers: { "content-type": "application/json", cookie, "idempotency-key": `bench-${hold.id}` },
          body: JSON.stringify({ holdId: hold.id, payment: { cardNumber: "4242424242424242", expMonth: 12, expYear: 2030, cvc: "123" } }),
        }));
        purchases++;
        flowMs.push(performance.now() - t0);
      } catch (error) {
        const code = /"code":"([A-Z_]+)"/.exec(String((error as Error).message))?.[1] ?? "ERROR";
        failures[code] = (failures[code] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: BUYERS }, buyer));
  return { purchases, seconds: (Date.now() - started) / 1000, flowMs, failures };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/**
 * The same purchase flow on `npm run start:distributed` (Redis bus and firehose, Postgres shards,
 * one process per service and one gateway: this machine has two cores). Leaves nothing behind:
 * its databases are dropped and its Redis keys deleted.
 */
type Comparison = Awaited<ReturnType<typeof compare>>;

async function distributedPurchases(
  cachedPage: (gatewayUrl: string, eventId: string) => Promise<Comparison>,
): Promise<{ result: Awaited<ReturnType<typeof purchaseFlows>>; startupMs: number; cached: Comparison } | string> {
  const [redis, postgres] = await Promise.all([requireRedis(), requirePostgres()]);
  if (!redis.available || !postgres.available) return `skipped: ${redis.reason || postgres.reason}`;
  const prefix = uniqueName("gwbench");
  const port = await freePort();
  const started = await startChild(
    join(root, "services/platform/src/distributed.ts"),
    { PORT: String(port), LOG_LEVEL: "error", REDIS_URL: redisUrl(), POSTGRES_URL: postgresUrl() },
    /browse\s+(http:\/\/\S+)[\s\S]*Ctrl-C/,
    ["--prefix", prefix, "--db-prefix", prefix, "--instances", "1", "--gateways", "1"],
  );
  try {
    const base = started.match[1];
    const gatewayUrl = /gateway#0 (http:\/\/\S+)/.exec(started.output())?.[1] ?? base;
    const events = await findEvents(base);
    const small = events.find((e) => e.available < 1000) ?? events[0];
    // Created first, as the demo's hot event was: its seats settle while the cached rounds run.
    const hot = await openHotEvent(base);
    const cached = await cachedPage(gatewayUrl, small.id);
    return { result: await purchaseFlows(base, hot), startupMs: started.startupMs, cached };
  } finally {
    await stopChild(started.child, "SIGINT");
    const admin = new pg.Client({ connectionString: postgresUrl() });
    await admin.connect();
    const { rows } = await admin.query<{ datname: string }>("select datname from pg_database where datname like $1", [`${prefix}%`]);
    for (const { datname } of rows) await admin.query(`drop database if exists "${datname}" with (force)`);
    await admin.end();
    const client = new Redis(redisUrl());
    let cursor = "0";
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      if (keys.length > 0) await client.del(...keys);
      cursor = next;
    } while (cursor !== "0");
    client.disconnect();
    rmSync(join(root, ".data", "distributed", prefix), { recursive: true, force: true });
  }
}

const loadAtStart = loadavg()[0];
const dataDir = mkdtempSync(join(tmpdir(), "boxoffice-bench-"));
const rows: string[] = [];
try {
  // Embedded platform with the demo data, cache on.
  const cached = await startPlatform(dataDir, { FRESH: "true" });
  const base = cached.match[1].replace("localhost", "127.0.0.1");
  const events = await findEvents(base);
  const small = events.find((e) => e.available < 1000) ?? events[0];
  // Created first, as the demo's hot event was: its seats settle while the cached rounds run.
  const hot = await openHotEvent(base);
  const pageUrl = `${base}/api/events/${small.id}`;
  const body = await (await fetch(pageUrl)).text();

  const hello = await startChild(join(import.meta.dirname, "hello-world.ts"), { BODY: body }, /listening (http:\/\/\S+)/);
  const bareUrl = `${hello.match[1]}/api/events/${small.id}`;
  const embedded = await compare(bareUrl, pageUrl, "gateway in the embedded platform, cached event page");
  const purchase = await purchaseFlows(base, hot);
  await stopChild(cached.child);

  // Same data, catalogue cache off: every request asks events and inventory over the bus.
  const uncached = await startPlatform(dataDir, { CATALOGUE_CACHE_TTL_MS: "0" });
  const uncachedBase = uncached.match[1].replace("localhost", "127.0.0.1");
  const uncachedRun = await load(`${uncachedBase}/api/events/${small.id}`, "gateway, uncached event page");
  await stopChild(uncached.child);

  const distributed = await distributedPurchases(async (gatewayUrl, eventId) => compare(bareUrl, `${gatewayUrl}/api/events/${eventId}`, "gateway process alone (distributed), cached event page"));
  await stopChild(hello.child);

  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
  const row = (title: string, r: AutocannonResult) => `| ${title} | ${fmt(r.requests.average)} | ${r.latency.p50} ms | ${r.latency.p99} ms |`;
  rows.push(
    "| measurement (cached rows: median of 3 rounds alternating with the bare app) | requests/s | p50 latency | p99 latency |",
    "|---|---:|---:|---:|",
    row(`bare fastify, same ${body.length} bytes`, embedded.bare),
    row("gateway in the embedded platform (`npm start`: every service in the same process), cached `GET /api/events/:id`", embedded.gateway),
    typeof distributed === "string" ? `| gateway process alone (distributed) | ${distributed} | | |` : row("gateway process alone (distributed mode), cached `GET /api/events/:id`", distributed.cached.gateway),
    row("gateway in the embedded platform, uncached `GET /api/events/:id` (cache TTL 0: events + inventory over the bus, PGlite)", uncachedRun),
    "",
    `Cached gateway / bare fastify, median of the per-round ratios: **${embedded.ratio.toFixed(2)}** embedded (rounds: ${embedded.perRound.map((r) => r.toFixed(2)).join(", ")})${typeof distributed === "string" ? "" : `, **${distributed.cached.ratio.toFixed(2)}** gateway process alone (rounds: ${distributed.cached.perRound.map((r) => r.toFixed(2)).join(", ")})`} (target ≥ 0.8).`,
    "",
    "| purchase flow (sign in → hold 1 seat → order), embedded | value |",
    "|---|---:|",
    `| completed purchases/s (${BUYERS} concurrent buyers, ${PURCHASE_S} s, a 20,000-seat event open for sale, created by the bench) | ${(purchase.purchases / purchase.seconds).toFixed(1)} |`,
    `| flow latency p50 / p99 | ${Math.round(percentile(purchase.flowMs, 50))} ms / ${Math.round(percentile(purchase.flowMs, 99))} ms |`,
    `| failed flows | ${Object.entries(purchase.failures).map(([code, n]) => `${code} ${n}`).join(", ") || "0"} |`,
    typeof distributed === "string"
      ? `| same flow, distributed (Redis + Postgres) | ${distributed} |`
      : `| same flow, distributed: Redis bus + firehose, 2 Postgres shards per service, 1 process per service, 1 gateway | ${(distributed.result.purchases / distributed.result.seconds).toFixed(1)} purchases/s, p50 ${Math.round(percentile(distributed.result.flowMs, 50))} ms, p99 ${Math.round(percentile(distributed.result.flowMs, 99))} ms, failed ${Object.values(distributed.result.failures).reduce((a, b) => a + b, 0)} |`,
    `| \`npm start\`, fresh data dir: serving / demo data in place (inside the process) | ${cached.match[2]} s / ${cached.match[3]} s |`,
    `| \`npm start\`, restart on the same data: serving / demo data checked | ${uncached.match[2]} s / ${uncached.match[3]} s |`,
    `| process spawn to banner, fresh / restart (includes Node start-up) | ${(cached.startupMs / 1000).toFixed(1)} s / ${(uncached.startupMs / 1000).toFixed(1)} s |`,
  );
  const notes = [
    "",
    `autocannon: ${CONNECTIONS} connections; cached rows ${ROUND_S} s per round, uncached ${DURATION_S} s; servers and load generator share the machine's cores. Load average (1 min) at the start of the run: ${loadAtStart.toFixed(1)}, at the end: ${loadavg()[0].toFixed(1)} (other work on the machine shares the cores).`,
    "Sign-in is a deliberately slow scrypt check (users service), so it dominates the purchase flow.",
    "The distributed row runs `npm run start:distributed` (its own databases and key prefix, removed afterwards).",
  ];
  console.log([...rows, ...notes].join("\n"));
  writeBenchmarkSection("gateway", "Gateway: cached pages, uncached pages, purchases", "npm run bench -w @boxoffice/gateway", [...rows, ...notes].join("\n"));
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
