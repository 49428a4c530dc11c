// `npm run bench -w @boxoffice/load-tests`: the on-sale through the waiting room, embedded
// (`npm start`) and distributed (`npm run start:distributed --instances 1 --gateways 1`) in one run,
// written to BENCHMARKS.md. For each: BUYERS signed-in buyers arrive over ARRIVAL_S seconds for a
// SEATS-seat event that opens OPENS_AFTER_S seconds into the arrivals; each joins the room, polls at
// pollAfterSeconds, and once admitted holds one seat and pays. Measured: answers that were not
// answers (timeouts, connection errors, 5xx other than 503, 503 without Retry-After), admitted
// purchase latency, time to sell out, waiting times, server CPU per waiting buyer per minute (a
// window with the room paused), and queue join throughput against a bare fastify route.
// Everything goes to 127.0.0.1; every phase has a deadline, and the platforms are stopped at the end.
import { Agent, request as httpRequest } from "node:http";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { getPriority, loadavg, setPriority, tmpdir } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { join } from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { percentile, postgresUrl, redisUrl, requirePostgres, requireRedis, uniqueName, writeBenchmarkSection } from "@boxoffice/testkit";
import { startChild, stopChild } from "./child-process.ts";

const require = createRequire(import.meta.url);
interface AutocannonResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
const autocannon = require("autocannon") as (options: Record<string, unknown>) => Promise<AutocannonResult>;

const root = join(import.meta.dirname, "..", "..");
const BUYERS = Number(process.env.BENCH_ROOM_BUYERS ?? 40_000);
const SEATS = Number(process.env.BENCH_ROOM_SEATS ?? 20_000);
const ARRIVAL_S = Number(process.env.BENCH_ROOM_ARRIVAL_S ?? 10);
const OPENS_AFTER_S = Number(process.env.BENCH_ROOM_OPENS_AFTER_S ?? 5);
const PAUSE_S = Number(process.env.BENCH_ROOM_CPU_WINDOW_S ?? 20);
const MAX_RUN_S = Number(process.env.BENCH_ROOM_MAX_RUN_S ?? 900);
const SETUP_CONCURRENCY = Number(process.env.BENCH_ROOM_SETUP_CONCURRENCY ?? 32);
/** The setup (sign-ups, sign-ins, the join comparison) has its own deadline: it is not the on-sale. */
const SETUP_MAX_S = Number(process.env.BENCH_ROOM_SETUP_MAX_S ?? 3600);
const SCRYPT_LOG_N = "10";
const REQUEST_TIMEOUT_MS = 30_000;
/**
 * Sockets the load generator keeps open to one server. fetch's pool has no bound, so 40,000 buyers
 * in flight at once opened a socket each and ran this machine out of ephemeral ports (28,000):
 * connection errors that were the client's, not the server's. A request waiting here for a socket
 * is the client's delay; its timeout starts when it has a socket.
 */
const MAX_SOCKETS = Number(process.env.BENCH_ROOM_MAX_SOCKETS ?? 4096);
// An idle socket is closed by the client after 140 s, before the gateway's keep-alive timeout (150 s,
// KEEP_ALIVE_TIMEOUT_SECONDS; nginx the same) can close it under a request just sent on it (a reset that
// browsers retry and this client would count), and after the room's longest pollAfterSeconds (120 s), so a
// waiting buyer's poll reuses its connection as a browser's would (Firefox keeps idle ones 115 s, Chrome longer).
// Idle ones are all kept (maxFreeSockets, 256 by default, would close the rest after each burst and
// open them again in the next: a few hundred fresh connections at once, which a busy server accepts slowly).
const agent = new Agent({ keepAlive: true, maxSockets: MAX_SOCKETS, maxFreeSockets: MAX_SOCKETS, timeout: 140_000 });
const TICKS = 100; // /proc clock ticks per second
/**
 * Every simulated buyer comes from 127.0.0.1: the per-address join limit and the per-address login
 * limit (which counts an attempt in progress as a failure until it succeeds) are lifted for the run.
 */
const PLATFORM_ENV: Record<string, string> = { USERS_SCRYPT_LOG_N: SCRYPT_LOG_N, QUEUE_JOINS_PER_ADDRESS_PER_MINUTE: "100000000", LOGIN_MAX_FAILURES_PER_ADDRESS: "100000000", LOG_LEVEL: "error" };
/**
 * The identity tokens' lifetime (USERS_TOKEN_TTL_SECONDS), unset: the platform's own (15 minutes
 * distributed, 12 hours embedded). Buyers sign in during the setup, so whether their tokens reach
 * their last minute (when the gateway exchanges them) during the sale depends on how long the setup
 * took; a short lifetime puts every buyer's exchange inside the sale, on purpose.
 */
if (process.env.BENCH_ROOM_TOKEN_TTL_S) PLATFORM_ENV.USERS_TOKEN_TTL_SECONDS = process.env.BENCH_ROOM_TOKEN_TTL_S;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** CPU seconds (user + system) of a process and all its descendants, from /proc. */
function treeCpuSeconds(rootPid: number): number {
  const parents = new Map<number, number>();
  const cpu = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parents.set(Number(entry), Number(fields[1]));
      cpu.set(Number(entry), (Number(fields[11]) + Number(fields[12])) / TICKS);
    } catch {
      // The process ended while we looked.
    }
  }
  let total = 0;
  const stack = [rootPid];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    total += cpu.get(pid) ?? 0;
    for (const [child, parent] of parents) if (parent === pid) stack.push(child);
  }
  return total;
}

async function redisCpuSeconds(): Promise<number> {
  const client = new Redis(redisUrl());
  try {
    const info = await client.info("cpu");
    const value = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
    return value("used_cpu_sys") + value("used_cpu_user");
  } finally {
    client.disconnect();
  }
}

/**
 * BENCH_ROOM_TRACE_S=5: every 5 s, one line of what the server does (CPU share of one core, the
 * gateway's event-loop delay, answers by status class, the room's admissions), read from its
 * /metrics and /proc: to see where an on-sale goes wrong, not part of the report.
 */
const TRACE_S = Number(process.env.BENCH_ROOM_TRACE_S ?? 0);

/** The machine's TcpExt ListenOverflows: connections dropped because a listen queue was full. */
function listenOverflows(): number {
  const lines = readFileSync("/proc/net/netstat", "utf8").split("\n").filter((line) => line.startsWith("TcpExt:"));
  const names = lines[0]?.split(" ") ?? [];
  const values = lines[1]?.split(" ") ?? [];
  return Number(values[names.indexOf("ListenOverflows")] ?? Number.NaN);
}

function traceServer(mode: string, gatewayUrl: string, serverCpu: () => Promise<number>, since: number, client: () => { bought: number; timeouts: number; requests: number }): { stop(): void } {
  let last: { at: number; cpu: number; byClass: Map<string, number>; decisions: Map<string, number>; client: ReturnType<typeof client>; overflows: number; opened: number; connections: number; received: number } | undefined;
  const metric = (text: string, name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([\\d.e+-]+)$`, "m").exec(text)?.[1] ?? Number.NaN);
  const sample = async () => {
    const at = Date.now();
    const cpu = await serverCpu();
    let text = "";
    try {
      const response = await fetch(`${gatewayUrl}/metrics`, { signal: AbortSignal.timeout(TRACE_S * 1000) });
      text = await response.text();
    } catch {
      // no answer in time: the line says so
    }
    const byClass = new Map<string, number>();
    for (const match of text.matchAll(/^gateway_http_requests_total\{[^}]*status="(\d)\d\d"[^}]*\} (\d+)/gm)) {
      byClass.set(`${match[1]}xx`, (byClass.get(`${match[1]}xx`) ?? 0) + Number(match[2]));
    }
    const decisions = new Map<string, number>();
    for (const match of text.matchAll(/^gateway_admission_windows_total\{decision="(\w+)"\} (\d+)/gm)) decisions.set(match[1], Number(match[2]));
    const now = client();
    const overflows = listenOverflows();
    if (last) {
      const seconds = (at - last.at) / 1000;
      const rates = [...byClass].map(([k, v]) => `${k} ${Math.round((v - (last!.byClass.get(k) ?? 0)) / seconds)}/s`).join(" ");
      console.log(
        `  ${mode} trace ${Math.round((at - since) / 1000)} s: cpu ${Math.round(((cpu - last.cpu) / seconds) * 100)}%`
          + ` loop mean/max ${Math.round(metric(text, 'gateway_event_loop_delay_seconds\\{stat="mean"\\}') * 1000)}/${Math.round(metric(text, 'gateway_event_loop_delay_seconds\\{stat="max"\\}') * 1000)} ms`
          + ` in flight ${["checkout", "queue", "other"].map((c) => metric(text, `gateway_requests_in_flight\\{class="${c}"\\}`)).join("/")}`
          + ` (bus calls waiting for room ${metric(text, "gateway_bus_calls_waiting_for_room")}, ${metric(text, "gateway_bus_calls_waited_for_room_total")} so far)`
          + ` answers ${rates || "(no /metrics answer)"} waiting ${metric(text, "boxoffice_waiting_room_waiting")} admitted/min ${metric(text, "boxoffice_waiting_room_admitted_per_minute")}`
          + ` rate ${metric(text, "gateway_admission_rate_per_second").toFixed(1)}/s (last p99 ${Math.round(metric(text, "gateway_admission_window_p99_seconds") * 1000)} ms; windows ${[...decisions].map(([k, v]) => `${k} +${v - (last!.decisions.get(k) ?? 0)}`).join(" ") || "none"})`
          + ` listen overflows +${overflows - last.overflows}`
          + ` server: connections +${metric(text, "gateway_connections_accepted_total") - last.connections}, requests +${metric(text, "gateway_requests_received_total") - last.received}`
          + ` | client: bought +${now.bought - last.client.bought}, timeouts +${now.timeouts - last.client.timeouts}, sent +${now.requests - last.client.requests}, connections +${clientConnections.opened - last.opened}`
          + (timeoutsByStage.size > 0 ? ` (timeouts so far: ${[...timeoutsByStage].map(([k, v]) => `${k} ${v}`).join(", ")})` : ""),
      );
    }
    last = { at, cpu, byClass, decisions, client: now, overflows, opened: clientConnections.opened, connections: metric(text, "gateway_connections_accepted_total"), received: metric(text, "gateway_requests_received_total") };
  };
  const timer = setInterval(() => sample().catch((error: unknown) => console.log(`  ${mode} trace: ${(error as Error).message}`)), TRACE_S * 1000);
  return { stop: () => clearInterval(timer) };
}

interface Reply {
  status: number;
  json: unknown;
  retryAfter: number | undefined;
  cookie: string;
}

interface Tally {
  requests: number;
  byStatus: Record<string, number>;
  timeouts: number;
  connectionErrors: number;
  serverErrors: number;
  unavailableWithoutRetryAfter: number;
  /** Timeouts and connection errors by request ("GET queue", "POST holds"…): which answers were missing. */
  missingByRequest: Record<string, number>;
  /** 503s by request and error code ("POST holds BUSY"…): which bound shed them. */
  shedByRequest: Record<string, number>;
}

function newTally(): Tally {
  return { requests: 0, byStatus: {}, timeouts: 0, connectionErrors: 0, serverErrors: 0, unavailableWithoutRetryAfter: 0, missingByRequest: {}, shedByRequest: {} };
}

class TimeoutError extends Error {
  override name = "TimeoutError";
}

/** One HTTP exchange: status, body and headers, or "timeout" (no answer REQUEST_TIMEOUT_MS after it had a socket) / "connection". */
/** Connections this load generator opened (the trace compares them with those the gateway accepted). */
const clientConnections = { opened: 0 };

/** Timeouts by where the exchange stood when the client gave up (see exchange). */
const timeoutsByStage = new Map<string, number>();

function exchange(url: URL, method: string, headers: Record<string, string>, body: string | undefined): Promise<{ status: number; text: string; headers: Record<string, string | string[] | undefined> } | "timeout" | "connection"> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const request = httpRequest(url, { method, headers: { ...headers, ...(body === undefined ? {} : { "content-length": Buffer.byteLength(body) }) }, agent }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => {
        clearTimeout(timer);
        resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString(), headers: response.headers });
      });
      response.on("error", () => {
        clearTimeout(timer);
        resolve("connection");
      });
    });
    request.once("socket", (socket) => {
      const reused = !socket.connecting;
      if (!reused) clientConnections.opened++;
      timer = setTimeout(() => {
        // Where the exchange stood: a connection never accepted is the server's listen queue, a
        // request written on a live connection and never answered is the server's work.
        const where = socket.connecting ? "connect never completed" : `${reused ? "reused" : "new"} connection, no answer`;
        timeoutsByStage.set(where, (timeoutsByStage.get(where) ?? 0) + 1);
        request.destroy(new TimeoutError("no answer"));
      }, REQUEST_TIMEOUT_MS);
    });
    request.on("error", (error) => {
      clearTimeout(timer);
      resolve(error instanceof TimeoutError ? "timeout" : "connection");
    });
    request.end(body);
  });
}

async function call(tally: Tally, base: string, method: string, path: string, options: { cookie?: string; jar?: { cookie: string }; body?: unknown; headers?: Record<string, string> } = {}): Promise<Reply | "timeout" | "connection"> {
  tally.requests++;
  const response = await exchange(new URL(base + path), method, {
    ...(options.body === undefined ? {} : { "content-type": "application/json" }),
    ...(options.cookie || options.jar ? { cookie: options.jar?.cookie ?? options.cookie } : {}),
    ...options.headers,
  }, options.body === undefined ? undefined : JSON.stringify(options.body));
  if (response === "timeout" || response === "connection") {
    if (response === "timeout") tally.timeouts++;
    else tally.connectionErrors++;
    const what = `${method} ${requestName(path)} (${response})`;
    tally.missingByRequest[what] = (tally.missingByRequest[what] ?? 0) + 1;
    return response;
  }
  const text = response.text;
  tally.byStatus[response.status] = (tally.byStatus[response.status] ?? 0) + 1;
  const retryAfterHeader = response.headers["retry-after"] as string | undefined;
  if (response.status >= 500 && response.status !== 503) tally.serverErrors++;
  if (response.status === 503 && !retryAfterHeader) tally.unavailableWithoutRetryAfter++;
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  if (response.status === 503) {
    const what = `${method} ${requestName(path)} ${(json as { error?: { code?: string } } | null)?.error?.code ?? "?"}`;
    tally.shedByRequest[what] = (tally.shedByRequest[what] ?? 0) + 1;
  }
  const setCookie = response.headers["set-cookie"];
  const cookie = (Array.isArray(setCookie) ? setCookie[0] : (setCookie ?? "")).split(";")[0];
  // Like a browser: a re-set session cookie (a refreshed identity token, the refresh token rotated)
  // replaces the old one; the spent refresh token would sign the buyer out at the next refresh.
  if (options.jar && cookie.startsWith("boxoffice_session=") && cookie !== "boxoffice_session=") options.jar.cookie = cookie;
  return { status: response.status, json, retryAfter: retryAfterHeader ? Number(retryAfterHeader) : undefined, cookie };
}

/** "queue", "holds", "orders"…: a request's path without its ids. */
function requestName(path: string): string {
  return path.split("?")[0].split("/").filter((part) => part && !/\d/.test(part)).slice(1).join("/");
}

/** An answer the run cannot go on without: retried while shed or lost, then it must have `status`. */
async function required(tally: Tally, deadline: number, what: string, status: number, attempt: () => Promise<Reply | "timeout" | "connection">): Promise<Reply> {
  const reply = await persist(tally, deadline, attempt);
  if (reply?.status !== status) throw new Error(`${what}: ${reply ? `${reply.status} ${JSON.stringify(reply.json).slice(0, 300)}` : "no answer before the deadline"}`);
  return reply;
}

const codeOf = (reply: Reply) => (reply.json as { error?: { code?: string } } | null)?.error?.code;

/** Retries a call while it is shed (503/429: after Retry-After) or lost (timeout/connection: after 1 s), until the deadline. */
async function persist(tally: Tally, deadline: number, attempt: () => Promise<Reply | "timeout" | "connection">): Promise<Reply | undefined> {
  while (Date.now() < deadline) {
    const reply = await attempt();
    if (reply === "timeout" || reply === "connection") {
      await sleep(1000);
      continue;
    }
    if (reply.status === 503 || reply.status === 429) {
      // A lockout (minutes) is an answer to report, not something to wait out.
      if ((reply.retryAfter ?? 1) > 60) return reply;
      await sleep((reply.retryAfter ?? 1) * 1000);
      continue;
    }
    return reply;
  }
  return undefined;
}

async function inPool<T>(items: T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index], index);
    }
  }));
}

interface RunResult {
  mode: string;
  setupSeconds: number;
  arrivalSeconds: number;
  tally: Tally;
  outcomes: Record<string, number>;
  purchaseMs: number[];
  /**
   * Where the purchase's tail is: the share of holds and of orders slower than each of TAIL_MS, as
   * this client saw them and as the gateway timed them (from routing the request to answering it,
   * its request-duration histogram). A gap is time outside the gateway's handling: the client's own
   * event loop, the load balancer, the connection's queue and the gateway's parsing.
   */
  checkoutTail: Record<"hold" | "order", { client: number[]; gateway: number[] }>;
  /** Shares of checkout and of queue requests that waited longer than each of TAIL_MS between the load balancer and the gateway's first look. */
  waitedBeforeGateway: Record<"checkout" | "queue", number[]>;
  waitFromJoinMs: number[];
  waitFromOpeningMs: number[];
  sellOutSeconds: number | undefined;
  /** From opening to the first buyer told sold_out (nothing left to hold: every seat sold or held). */
  nothingLeftSeconds: number | undefined;
  polls: number;
  cpuPerWaitingBuyerMinuteMs: number;
  waitingDuringWindow: number;
  pollsDuringWindow: number;
  joinVsBare: { join: AutocannonResult; bare: AutocannonResult };
  /** The organiser's pause and resume, each from first try to answer (retries included). */
  organiserCallsMs: number[];
  /** This load generator's own event-loop delay during the on-sale (ms): a late timer or unread answer is the client's. */
  generatorLoopDelayMs: { p99: number; max: number };
  /** The nice value the load generator ran the on-sale at (the platform runs at 0). */
  generatorNice: number;
}

/** Thresholds of the checkout tail comparison: bounds of the gateway's duration histogram. */
const TAIL_MS = [250, 500, 1000];

function shareOver(values: number[]): number[] {
  return TAIL_MS.map((limit) => (values.length ? values.filter((v) => v > limit).length / values.length : Number.NaN));
}

/** The share of a Prometheus histogram's observations (summed over the series `keep` accepts) above each of TAIL_MS. */
function histogramShareOver(text: string, metric: string, keep: (labels: string) => boolean): number[] {
  const buckets = new Map<number, number>();
  for (const match of text.matchAll(new RegExp(`^${metric}_bucket\\{([^}]*)\\} (\\d+)`, "gm"))) {
    const labels = match[1];
    if (!keep(labels)) continue;
    const le = /le="([^"]+)"/.exec(labels)?.[1];
    if (le) buckets.set(le === "+Inf" ? Infinity : Number(le), (buckets.get(le === "+Inf" ? Infinity : Number(le)) ?? 0) + Number(match[2]));
  }
  const total = buckets.get(Infinity) ?? 0;
  return TAIL_MS.map((limit) => (total > 0 && buckets.has(limit / 1000) ? (total - buckets.get(limit / 1000)!) / total : Number.NaN));
}

/**
 * From the gateway's own histograms (cumulative since it started: only the on-sale's, in this bench):
 * the share of successful holds (POST …/holds, 201) and orders (POST /api/orders, 201) slower than
 * each of TAIL_MS from routing to answer; and the share of checkout and queue requests that waited
 * longer than each between the load balancer (its X-Request-Start) and the gateway's first look
 * (distributed mode only: nothing stamps them in the embedded one).
 */
async function gatewayCheckoutTail(gatewayUrl: string): Promise<Record<"hold" | "order" | "checkoutWaited" | "queueWaited", number[]>> {
  let text = "";
  try {
    text = await (await fetch(`${gatewayUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  } catch {
    // no figure: NaN below
  }
  const handled = (route: RegExp) => histogramShareOver(text, "gateway_http_request_duration_seconds", (labels) => labels.includes('method="POST"') && labels.includes('status="201"') && route.test(labels));
  const waited = (routeClass: string) => histogramShareOver(text, "gateway_http_request_queue_seconds", (labels) => labels.includes(`class="${routeClass}"`));
  return { hold: handled(/route="[^"]*\/holds"/), order: handled(/route="\/api\/orders"/), checkoutWaited: waited("checkout"), queueWaited: waited("queue") };
}

/** `gatewayUrl`: the gateway itself (not the load balancer) for the join-vs-bare comparison. */
async function runOnSale(mode: string, base: string, serverCpu: () => Promise<number>, gatewayUrl: string): Promise<RunResult> {
  const setupTally = newTally();
  const setupStarted = Date.now();
  const setupDeadline = setupStarted + SETUP_MAX_S * 1000;
  const organiser = await required(setupTally, setupDeadline, "organiser sign-in", 200, () => call(setupTally, base, "POST", "/api/session", { body: { email: "organizer@boxoffice.test", password: "organizer-password" } }));
  // A jar: the session's token is exchanged when it nears expiry, and the cookie that follows carries the new refresh token.
  const organiserJar = { cookie: organiser.cookie };

  // Accounts and sessions exist before the on-sale (people sign in ahead); a cheap KDF keeps this short.
  const tag = Date.now().toString(36);
  const cookies: string[] = new Array(BUYERS);
  await inPool(Array.from({ length: BUYERS }, (_, i) => i), SETUP_CONCURRENCY, async (i) => {
    const email = `room-${tag}-${i}@bench.test`;
    const created = await persist(setupTally, setupDeadline, () => call(setupTally, base, "POST", "/api/users", { body: { email, password: "bench-password", displayName: `B${i}` } }));
    if (created?.status !== 201) throw new Error(`sign-up ${created?.status} ${JSON.stringify(created?.json)}`);
    const session = await persist(setupTally, setupDeadline, () => call(setupTally, base, "POST", "/api/session", { body: { email, password: "bench-password" } }));
    if (session?.status !== 200) throw new Error(`sign-in ${session?.status}`);
    cookies[i] = session.cookie;
    if (i % 5000 === 4999) console.log(`  ${mode}: ${i + 1} buyers signed in`);
  });

  // Queue join throughput against a bare fastify route, on a small event of its own (the same account
  // joining again: the whole path — session, event lookup, room script — minus a new place).
  const small = await required(setupTally, setupDeadline, "the join bench's event", 201, () => call(setupTally, base, "POST", "/api/events", {
    jar: organiserJar,
    body: { title: `join bench ${tag}`, venue: "Bench Hall", startsAt: new Date(Date.now() + 30 * 86_400_000).toISOString(), sections: [{ name: "Floor", rows: 1, seatsPerRow: 10, priceCents: 1000 }] },
  }));
  const smallId = (small.json as { event: { id: string } }).event.id;
  const joinPath = `/api/events/${smallId}/queue`;
  const sample = await required(setupTally, setupDeadline, "a sample join", 200, () => call(setupTally, base, "POST", joinPath, { cookie: cookies[0] }));
  const bareBody = JSON.stringify(sample.json);
  const bare = await startChild(process.execPath, [join(import.meta.dirname, "bare-queue.ts")], { BODY: bareBody }, /listening (http:\/\/\S+)/);
  const load = (url: string, headers: Record<string, string>) => autocannon({ url, method: "POST", headers, connections: 50, duration: 5, pipelining: 1 });
  const bareRun = await load(`${bare.match[1]}${joinPath}`, {});
  const joinRun = await load(`${gatewayUrl}${joinPath}`, { cookie: cookies[0] });
  await stopChild(bare.child);
  const setupSeconds = (Date.now() - setupStarted) / 1000;

  // The hot event: SEATS seats, opening OPENS_AFTER_S into the arrivals.
  const arrivalsStart = Date.now() + 3000;
  const opensAt = arrivalsStart + OPENS_AFTER_S * 1000;
  const rows = Math.ceil(SEATS / 100);
  const created = await required(setupTally, setupDeadline, "the hot event", 201, () => call(setupTally, base, "POST", "/api/events", {
    jar: organiserJar,
    body: {
      title: `Waiting room bench ${tag}`,
      venue: "Bench Stadium",
      startsAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
      salesStartAt: new Date(opensAt).toISOString(),
      sections: [{ name: "Bowl", rows, seatsPerRow: 100, priceCents: 5000 }],
    },
  }));
  const eventId = (created.json as { event: { id: string } }).event.id;

  const tally = newTally();
  const outcomes: Record<string, number> = {};
  const purchaseMs: number[] = [];
  /** The admitted purchase's two calls as this client saw them (retries included). */
  const holdMs: number[] = [];
  const orderMs: number[] = [];
  const waitFromJoinMs: number[] = [];
  const waitFromOpeningMs: number[] = [];
  let lastPurchaseAt = 0;
  let firstSoldOutAt = 0;
  let polls = 0;
  let pollsDuringWindow = 0;
  let windowOpen = false;
  const deadline = arrivalsStart + MAX_RUN_S * 1000;
  const queuePath = `/api/events/${eventId}/queue`;

  async function waitForAdmission(jar: { cookie: string }): Promise<"admitted" | "sold_out" | "gave_up"> {
    const joinedAt = Date.now();
    let reply = await persist(tally, deadline, () => call(tally, base, "POST", queuePath, { jar }));
    for (;;) {
      if (!reply) return "gave_up";
      if (reply.status === 409 && codeOf(reply) === "SOLD_OUT") return "sold_out";
      if (reply.status !== 200) throw new Error(`queue ${reply.status} ${JSON.stringify(reply.json)}`);
      const queue = (reply.json as { queue: { status: string; pollAfterSeconds: number } }).queue;
      if (queue.status === "admitted") {
        waitFromJoinMs.push(Date.now() - joinedAt);
        waitFromOpeningMs.push(Date.now() - Math.max(joinedAt, opensAt));
        return "admitted";
      }
      if (queue.status === "sold_out") {
        firstSoldOutAt ||= Date.now();
        return "sold_out";
      }
      if (queue.status === "expired") {
        reply = await persist(tally, deadline, () => call(tally, base, "POST", queuePath, { jar }));
        continue;
      }
      await sleep(queue.pollAfterSeconds * 1000);
      polls++;
      if (windowOpen) pollsDuringWindow++;
      reply = await persist(tally, deadline, () => call(tally, base, "GET", queuePath, { jar }));
    }
  }

  async function buyer(index: number): Promise<string> {
    const jar = { cookie: cookies[index] };
    await sleep(arrivalsStart + (index / BUYERS) * ARRIVAL_S * 1000 - Date.now());
    for (let round = 0; round < 3; round++) {
      const room = await waitForAdmission(jar);
      if (room !== "admitted") return room;
      const started = performance.now();
      const hold = await persist(tally, deadline, () => call(tally, base, "POST", `/api/events/${eventId}/holds`, { jar, body: { quantity: 1 } }));
      if (!hold) return "gave_up";
      const held = performance.now();
      if (hold.status === 409 && codeOf(hold) === "SOLD_OUT") return "sold_out";
      if (hold.status === 409 && codeOf(hold) === "NOT_ADMITTED") continue;
      if (hold.status !== 201) throw new Error(`hold ${hold.status} ${JSON.stringify(hold.json)}`);
      const holdId = (hold.json as { hold: { id: string } }).hold.id;
      const order = await persist(tally, deadline, () => call(tally, base, "POST", "/api/orders", {
        jar,
        headers: { "idempotency-key": `room-${holdId}` },
        body: { holdId, payment: { cardNumber: "4242424242424242", expMonth: 12, expYear: 2035, cvc: "123" } },
      }));
      if (!order) return "gave_up";
      if (order.status !== 201) throw new Error(`order ${order.status} ${JSON.stringify(order.json)}`);
      purchaseMs.push(performance.now() - started);
      holdMs.push(held - started);
      orderMs.push(performance.now() - held);
      lastPurchaseAt = Date.now();
      return "bought";
    }
    return "not_admitted_thrice";
  }

  // The CPU window: once everyone has arrived, the room pauses for PAUSE_S while buyers keep polling.
  // The organiser's calls are retried like a person would (shed: after Retry-After; lost: after 1 s)
  // and timed; an organiser who never gets an answer ends the window without a figure, not the run.
  const organiserCalls: number[] = [];
  const organiserCall = async (body: object) => {
    const started = performance.now();
    const reply = await persist(tally, deadline, () => call(tally, base, "PATCH", queuePath, { jar: organiserJar, body }));
    organiserCalls.push(performance.now() - started);
    return reply?.status === 200 ? (reply.json as { stats: { waiting: number } }).stats : undefined;
  };
  const cpuWindow = (async () => {
    await sleep(arrivalsStart + (ARRIVAL_S + 3) * 1000 - Date.now());
    const paused = await organiserCall({ paused: true });
    if (!paused) return { cpuPerWaitingBuyerMinuteMs: Number.NaN, waiting: 0, pausedMs: 0 };
    const waiting = paused.waiting;
    const cpuBefore = await serverCpu();
    windowOpen = true;
    const windowStarted = Date.now();
    await sleep(PAUSE_S * 1000);
    windowOpen = false;
    const cpuSeconds = (await serverCpu()) - cpuBefore;
    const minutes = (Date.now() - windowStarted) / 60_000;
    // Retried until answered (within the run's deadline): buyers wait for it.
    await organiserCall({ paused: false });
    return { cpuPerWaitingBuyerMinuteMs: waiting > 0 ? (cpuSeconds * 1000) / waiting / minutes : 0, waiting, pausedMs: Date.now() - windowStarted };
  })();

  console.log(`  ${mode}: ${BUYERS} buyers arriving over ${ARRIVAL_S} s; the sale opens ${OPENS_AFTER_S} s in`);
  let bought = 0;
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();
  const progress = setInterval(() => {
    console.log(`  ${mode}: ${Math.round((Date.now() - arrivalsStart) / 1000)} s: ${bought} bought, ${tally.requests} requests, ${tally.timeouts} timeouts, ${tally.connectionErrors} connection errors, generator loop delay max ${Math.round(loopDelay.max / 1e6)} ms, load ${loadavg()[0].toFixed(1)}`);
  }, 30_000);
  const trace = TRACE_S > 0 ? traceServer(mode, gatewayUrl, serverCpu, arrivalsStart, () => ({ bought, timeouts: tally.timeouts, requests: tally.requests })) : undefined;
  const priority = raiseGeneratorPriority();
  const results = await Promise.all(Array.from({ length: BUYERS }, (_, i) => buyer(i).then((outcome) => {
    if (outcome === "bought") bought++;
    return outcome;
  }).catch((error: unknown) => `error: ${(error as Error).message.slice(0, 120)}`)));
  clearInterval(progress);
  trace?.stop();
  loopDelay.disable();
  const gatewayTail = await gatewayCheckoutTail(gatewayUrl);
  priority.restore();
  for (const result of results) outcomes[result] = (outcomes[result] ?? 0) + 1;
  const window = await cpuWindow;
  const soldOutAt = lastPurchaseAt && (outcomes.bought ?? 0) >= SEATS ? lastPurchaseAt : 0;
  return {
    mode,
    setupSeconds,
    arrivalSeconds: ARRIVAL_S,
    tally,
    outcomes,
    purchaseMs,
    checkoutTail: {
      hold: { client: shareOver(holdMs), gateway: gatewayTail.hold },
      order: { client: shareOver(orderMs), gateway: gatewayTail.order },
    },
    waitedBeforeGateway: { checkout: gatewayTail.checkoutWaited, queue: gatewayTail.queueWaited },
    waitFromJoinMs,
    waitFromOpeningMs,
    sellOutSeconds: soldOutAt ? (soldOutAt - opensAt - window.pausedMs) / 1000 : undefined,
    nothingLeftSeconds: firstSoldOutAt ? (firstSoldOutAt - opensAt - window.pausedMs) / 1000 : undefined,
    polls,
    cpuPerWaitingBuyerMinuteMs: window.cpuPerWaitingBuyerMinuteMs,
    waitingDuringWindow: window.waiting,
    pollsDuringWindow,
    joinVsBare: { join: joinRun, bare: bareRun },
    organiserCallsMs: organiserCalls,
    generatorLoopDelayMs: { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
    generatorNice: priority.nice,
  };
}

/**
 * BENCH_ROOM_GENERATOR_NICE (default -10): the load generator's main thread runs the on-sale at this
 * nice value, above the platform's processes (0), then goes back (-10: about nine times the CPU share
 * of a process at 0 when both want a core). It shares 2 cores with the platform it measures, and a
 * CPU profile of it during the 40,000 arrivals showed busy runs of 0.7-1 s (node's HTTP client
 * building 4,000 requests a second, and its GC) while nine platform processes held the cores: its
 * loop stalled 1.7-6.7 s, and every purchase in flight then was timed that much slower than the
 * platform served it. Real buyers bring their own machines. Raised only after the platform and the
 * bare route were started (children inherit a nice value), for the main thread only (Linux sets a
 * thread's nice: GC helper threads stay at 0). Needs root; without it the report shows 0.
 */
function raiseGeneratorPriority(): { nice: number; restore(): void } {
  const wanted = Number(process.env.BENCH_ROOM_GENERATOR_NICE ?? -10);
  const before = getPriority();
  try {
    setPriority(wanted);
  } catch {
    return { nice: before, restore() {} };
  }
  return {
    nice: wanted,
    restore() {
      setPriority(before);
    },
  };
}

async function embedded(): Promise<RunResult> {
  const dataDir = mkdtempSync(join(tmpdir(), "boxoffice-room-bench-"));
  // BENCH_PLATFORM_NODE_FLAGS: e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the embedded platform.
  const nodeFlags = (process.env.BENCH_PLATFORM_NODE_FLAGS ?? "").split(" ").filter(Boolean);
  const platform = await startChild(process.execPath, [...nodeFlags, join(root, "services/platform/src/main.ts")], { ...PLATFORM_ENV, PORT: "0", DATA_DIR: dataDir, FRESH: "true" }, /running at (http:\/\/\S+)\s+\(serving after/);
  try {
    const base = platform.match[1].replace("localhost", "127.0.0.1");
    return await runOnSale("embedded", base, async () => treeCpuSeconds(platform.child.pid!), base);
  } finally {
    await stopChild(platform.child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** What start:distributed put in front of the gateway (nginx, or the Node balancer when nginx is not installed). */
let distributedBalancer: string | undefined;

async function distributed(): Promise<RunResult | string> {
  const [redis, postgres] = await Promise.all([requireRedis(), requirePostgres()]);
  if (!redis.available || !postgres.available) return `skipped: ${redis.reason || postgres.reason}`;
  const prefix = uniqueName("roombench");
  const started = await startChild(
    process.execPath,
    [join(root, "services/platform/src/distributed.ts"), "--prefix", prefix, "--db-prefix", prefix, "--instances", "1", "--gateways", "1"],
    { ...PLATFORM_ENV, PORT: "0", REDIS_URL: redisUrl(), POSTGRES_URL: postgresUrl() },
    /browse\s+(http:\/\/\S+)[\s\S]*Ctrl-C/,
  );
  try {
    const base = started.match[1];
    // Every process of the platform, and the Redis that carries the bus, the firehose and the rooms.
    const gatewayUrl = /gateway#0 (http:\/\/\S+)/.exec(started.output())?.[1] ?? base;
    // A machine without nginx runs the Node balancer instead, a different on-sale: say which one ran.
    distributedBalancer = /balancer\s+(.+)/.exec(started.output())?.[1]?.trim();
    console.error(`distributed: load balancer ${distributedBalancer ?? "unknown"}`);
    return await runOnSale("distributed", base, async () => treeCpuSeconds(started.child.pid!) + (await redisCpuSeconds()), gatewayUrl);
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
const modes = (process.env.BENCH_ROOM_MODES ?? "embedded,distributed").split(",");
const runs: Array<RunResult | string> = [];
if (modes.includes("embedded")) runs.push(await embedded());
if (modes.includes("distributed")) runs.push(await distributed());

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (values: number[], p: number) => (values.length ? `${fmt(percentile(values, p))} ms` : "–");
const pct = (share: number) => (Number.isNaN(share) ? "–" : `${(share * 100).toFixed(share < 0.01 ? 2 : 1)}%`);
const s = (values: number[], p: number) => (values.length ? `${(percentile(values, p) / 1000).toFixed(1)} s` : "–");
const done = runs.filter((r): r is RunResult => typeof r !== "string");
const column = (f: (r: RunResult) => string) => done.map(f).join(" | ");
const lines = [
  `${fmt(BUYERS)} signed-in buyers arrive evenly over ${ARRIVAL_S} s for a ${fmt(SEATS)}-seat event that opens ${OPENS_AFTER_S} s into the arrivals; each joins the waiting room, polls at \`pollAfterSeconds\`, and once admitted holds 1 seat and pays. One process per service and one gateway in distributed mode. Setup (accounts and sessions) uses \`USERS_SCRYPT_LOG_N=${SCRYPT_LOG_N}\` and lifts the per-address join limit (every buyer comes from 127.0.0.1).${PLATFORM_ENV.USERS_TOKEN_TTL_SECONDS ? ` Identity tokens last ${PLATFORM_ENV.USERS_TOKEN_TTL_SECONDS} s (\`BENCH_ROOM_TOKEN_TTL_S\`): every buyer's token is exchanged during the sale.` : ""}`,
  "",
  `| | ${done.map((r) => r.mode).join(" | ")} |`,
  `|---|${done.map(() => "---:").join("|")}|`,
  `| requests during the on-sale | ${column((r) => fmt(r.tally.requests))} |`,
  `| **timeouts / connection errors** (the goal: 0) | ${column((r) => `**${r.tally.timeouts} / ${r.tally.connectionErrors}**`)} |`,
  `| missing answers by request | ${column((r) => Object.entries(r.tally.missingByRequest).map(([k, v]) => `${k}: ${fmt(v)}`).join(", ") || "none")} |`,
  `| 503s by request and code | ${column((r) => Object.entries(r.tally.shedByRequest).map(([k, v]) => `${k}: ${fmt(v)}`).join(", ") || "none")} |`,
  `| the load generator's own event-loop delay, p99 / max (a client that is late reads answers late); its nice value (the platform's: 0) | ${column((r) => `${fmt(r.generatorLoopDelayMs.p99)} ms / ${fmt(r.generatorLoopDelayMs.max)} ms; ${r.generatorNice}`)} |`,
  `| 5xx other than 503 / 503 without Retry-After | ${column((r) => `${r.tally.serverErrors} / ${r.tally.unavailableWithoutRetryAfter}`)} |`,
  `| answers by status | ${column((r) => Object.entries(r.tally.byStatus).map(([k, v]) => `${k}: ${fmt(v)}`).join(", "))} |`,
  `| outcomes | ${column((r) => Object.entries(r.outcomes).map(([k, v]) => `${k}: ${fmt(v)}`).join(", "))} |`,
  `| admitted purchase (hold → confirmed order) p50 / p99 | ${column((r) => `${ms(r.purchaseMs, 50)} / ${ms(r.purchaseMs, 99)}`)} |`,
  `| where the tail is: holds / orders slower than ${TAIL_MS.map((v) => `${v}`).join(" / ")} ms, as the client saw them; as the gateway timed them (routing → answer) | ${column((r) => (["hold", "order"] as const).map((k) => `${k}s ${r.checkoutTail[k].client.map(pct).join(" / ")}; ${r.checkoutTail[k].gateway.map(pct).join(" / ")}`).join("<br>"))} |`,
  `| requests that waited longer than ${TAIL_MS.map((v) => `${v}`).join(" / ")} ms between the load balancer (its X-Request-Start) and the gateway's first look: checkout; queue (none in embedded mode: nothing stamps them) | ${column((r) => (["checkout", "queue"] as const).map((k) => `${k} ${r.waitedBeforeGateway[k].map(pct).join(" / ")}`).join("<br>"))} |`,
  `| time to sell out, from opening to the last order (the paused CPU window subtracted) | ${column((r) => (r.sellOutSeconds === undefined ? `not every seat sold in the run (${fmt(SEATS - (r.outcomes.bought ?? 0))} left in holds that a retried hold abandoned; they return when holds expire)` : `${r.sellOutSeconds.toFixed(1)} s`))} |`,
  `| time until nothing was left to hold (first buyer told sold_out), from opening | ${column((r) => (r.nothingLeftSeconds === undefined ? "–" : `${r.nothingLeftSeconds.toFixed(1)} s`))} |`,
  `| wait, join → admitted, p50 / p90 / p99 | ${column((r) => `${s(r.waitFromJoinMs, 50)} / ${s(r.waitFromJoinMs, 90)} / ${s(r.waitFromJoinMs, 99)}`)} |`,
  `| wait, max(join, opening) → admitted, p50 / p99 | ${column((r) => `${s(r.waitFromOpeningMs, 50)} / ${s(r.waitFromOpeningMs, 99)}`)} |`,
  `| organiser's pause / resume (PATCH …/queue) answered after, retries included | ${column((r) => r.organiserCallsMs.map((v) => `${fmt(v)} ms`).join(" / ") || "never")} |`,
  `| polls while waiting | ${column((r) => fmt(r.polls))} |`,
  `| **server CPU per waiting buyer per minute** (room paused ${PAUSE_S} s; waiting, polls in the window) | ${column((r) => `**${Number.isNaN(r.cpuPerWaitingBuyerMinuteMs) ? "– (the pause was not answered)" : `${r.cpuPerWaitingBuyerMinuteMs.toFixed(2)} ms`}** (${fmt(r.waitingDuringWindow)} waiting, ${fmt(r.pollsDuringWindow)} polls)`)} |`,
  `| queue join (POST …/queue to the gateway itself, signed in, same account again) vs bare fastify, requests/s | ${column((r) => `${fmt(r.joinVsBare.join.requests.average)} vs ${fmt(r.joinVsBare.bare.requests.average)} (${(r.joinVsBare.join.requests.average / r.joinVsBare.bare.requests.average).toFixed(2)}×)`)} |`,
  `| queue join p50 / p99 latency (autocannon, 50 connections, 5 s) | ${column((r) => `${r.joinVsBare.join.latency.p50} ms / ${r.joinVsBare.join.latency.p99} ms`)} |`,
  `| setup: ${fmt(BUYERS)} sign-ups + sign-ins, join comparison | ${column((r) => `${r.setupSeconds.toFixed(0)} s`)} |`,
  ...runs.filter((r): r is string => typeof r === "string").map((r) => `| distributed | ${r} |`),
  "",
  ...(BUYERS === 40_000 && SEATS === 20_000
    ? []
    : [`Scaled down from the defaults (40,000 buyers, 20,000 seats) with \`BENCH_ROOM_BUYERS=${BUYERS} BENCH_ROOM_SEATS=${SEATS}\`: on this shared 2-core machine (load average below) 40,000 sign-ups and sign-ins (PGlite in embedded) and 20,000 purchases at the rate checkout serves under its latency target (a dozen a second here) would take well over an hour per mode.`, ""]),
  `Server CPU: the platform's process tree from /proc (distributed: every process plus the Redis server's own CPU from INFO). ${distributedBalancer ? ` Distributed load balancer: ${distributedBalancer}.` : ""} The load generator runs on the same 2 cores. Load average (1 min) at the start: ${loadAtStart.toFixed(1)}, at the end: ${loadavg()[0].toFixed(1)} (other engineers' work shares the machine).`,
];
console.log(lines.join("\n"));
writeBenchmarkSection("waiting-room", "Waiting room: the on-sale spike", "npm run bench -w @boxoffice/load-tests", lines.join("\n"));
