// The chaos run: the distributed platform (two of everything) under a purchase spike, one fault at
// a time (SIGKILL of one process of a kind; Redis killed and restarted empty; one Postgres shard
// database refusing connections for a while; the load balancer's list losing a gateway), then
// recovery, then the money-and-seats invariants read from every shard's tables. `npm run chaos`
// runs every fault and prints the table; the platform's tests run a short version.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { logicalShardOfId, parseShardMap, physicalShardOf } from "@boxoffice/sharding";
import pg from "pg";
import { bringDatabaseOnline, databaseUrl, takeDatabaseOffline } from "./databases.ts";
import type { DistributedPlatform } from "./topology.ts";

export const PROCESS_FAULTS = ["gateway", "users", "events", "inventory", "payments"] as const;
/**
 * redis: the platform's Redis (bus, firehose, sessions' sign-out list, waiting rooms) SIGKILLed and
 * started again without persistence, so it comes back empty. postgres: the inventory database that
 * holds the spike's event refuses connections and has its backends terminated. balancer: the load
 * balancer's gateway list loses a gateway (a scale-down); the list is restored after the spike.
 */
// Faults that leave every process running come first: the SIGKILLs end the run on one instance of each.
export const CHAOS_FAULTS = ["balancer", "redis", "postgres", ...PROCESS_FAULTS] as const;
export type ChaosFault = (typeof CHAOS_FAULTS)[number];

/** The platform's Redis when it is one the run may kill (never a shared one): a private redis-server. */
export interface KillableRedis {
  kill(): Promise<void>;
  restart(): Promise<void>;
}

export interface ChaosOptions {
  fault: ChaosFault;
  postgresUrl: string;
  organizerCookie: string;
  buyers: number;
  rounds: number;
  settleMs: number;
  /** Needed for the redis fault: the private Redis the platform runs on. */
  redis?: KillableRedis;
  /** How long Redis stays down (default 5 s) and a database refuses connections (default 10 s). */
  redisDownMs?: number;
  databaseDownMs?: number;
}

const CARD = { cardNumber: "4242424242424242", expMonth: 12, expYear: 2030, cvc: "123" };

export interface ChaosRow {
  fault: string;
  requests: number;
  /** Requests that got an HTTP answer (any status). */
  answered: number;
  unavailable503: number;
  /** 503s that carried Retry-After. */
  with503RetryAfter: number;
  /** Other 5xx (504 deadline included): answered, but not shed. */
  other5xx: number;
  /** What the other 5xx (and 503s without Retry-After) were: "502 BAD_GATEWAY POST /api/orders" → count. */
  other5xxKinds: Record<string, number>;
  /** Every answer that was not a success, by status and error code ("409 HOLD_EXPIRED" → count): why buyers did not buy. */
  refusals: Record<string, number>;
  orders: number;
  /** Fault → first order confirmed after it, ms. */
  recoveryMs: number | null;
  /** Empty when every invariant held. */
  violations: string[];
}

interface Counters {
  requests: number;
  answered: number;
  s503: number;
  s503RetryAfter: number;
  other5xx: number;
  other5xxKinds: Record<string, number>;
  refusals: Record<string, number>;
}

const newCounters = (): Counters => ({ requests: 0, answered: 0, s503: 0, s503RetryAfter: 0, other5xx: 0, other5xxKinds: {}, refusals: {} });

class Buyer {
  cookie = "";
  readonly base: string;
  readonly counters: Counters;
  constructor(base: string, counters: Counters) {
    this.base = base;
    this.counters = counters;
  }
  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
    this.counters.requests++;
    try {
      const response = await fetch(`${this.base}${path}`, {
        method,
        headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...(this.cookie ? { cookie: this.cookie } : {}), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(20_000),
      });
      const cookies = response.headers.getSetCookie().map((c) => c.split(";")[0]);
      if (cookies.length > 0) this.cookie = cookies.join("; ");
      const text = await response.text();
      this.counters.answered++;
      let parsed: Record<string, unknown> = {};
      try {
        parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        parsed = { error: { code: "NOT_JSON" } };
      }
      if (response.status >= 400) {
        const refusal = `${response.status} ${(parsed.error as { code?: string } | undefined)?.code ?? "?"}`;
        this.counters.refusals[refusal] = (this.counters.refusals[refusal] ?? 0) + 1;
      }
      if (response.status === 503) {
        this.counters.s503++;
        if (response.headers.get("retry-after")) this.counters.s503RetryAfter++;
      }
      if (response.status >= 500 && !(response.status === 503 && response.headers.get("retry-after"))) {
        if (response.status !== 503) this.counters.other5xx++;
        const kind = `${response.status} ${(parsed.error as { code?: string } | undefined)?.code ?? "?"} ${method} ${path.replace(/\d{6,}/g, ":id")}`;
        this.counters.other5xxKinds[kind] = (this.counters.other5xxKinds[kind] ?? 0) + 1;
      }
      return { status: response.status, body: parsed };
    } catch {
      return { status: 0, body: {} };
    }
  }
}

/** The waiting room's protocol: join, poll at pollAfterSeconds until admitted; false when sold out or out of time. */
async function waitInRoom(buyer: Buyer, eventId: string, deadline: number): Promise<boolean> {
  let answer = await buyer.request("POST", `/api/events/${eventId}/queue`);
  while (Date.now() < deadline) {
    const queue = answer.body.queue as { status: string; pollAfterSeconds?: number } | undefined;
    if (answer.status === 200 && queue?.status === "admitted") return true;
    if (answer.status === 409 || queue?.status === "sold_out") return false;
    const joinAgain = queue?.status === "expired" || answer.status === 404;
    await new Promise((r) => setTimeout(r, Math.min(2000, (queue?.pollAfterSeconds ?? 0.5) * 1000)));
    answer = await buyer.request(joinAgain ? "POST" : "GET", `/api/events/${eventId}/queue`);
  }
  return false;
}

/** hold one seat, order it; transient failures retried with the same Idempotency-Key until the deadline. */
async function purchase(buyer: Buyer, eventId: string, deadline: number): Promise<{ orderAt?: number }> {
  let holdId: string | undefined;
  while (!holdId) {
    const hold = await buyer.request("POST", `/api/events/${eventId}/holds`, { quantity: 1 });
    if (hold.status === 201) holdId = (hold.body.hold as { id: string }).id;
    else if (hold.status === 409 && (hold.body.error as { code?: string } | undefined)?.code === "NOT_ADMITTED") {
      // The waiting room is on (checkout shed load, or the room's state was lost with Redis): queue, as a browser does.
      if (!(await waitInRoom(buyer, eventId, deadline))) return {};
    } else if ((hold.status > 0 && hold.status < 500) || Date.now() > deadline) return {};
    else await new Promise((r) => setTimeout(r, 200));
  }
  const key = randomUUID();
  for (;;) {
    const order = await buyer.request("POST", "/api/orders", { holdId, payment: CARD }, { "idempotency-key": key });
    if (order.status === 201) return { orderAt: Date.now() };
    if ((order.status > 0 && order.status < 500) || Date.now() > deadline) return {};
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Every invariant of money and seats for the events, read from all shards; returns the violations. */
export async function checkInvariants(platform: DistributedPlatform, postgresUrl: string, eventIds: string[]): Promise<string[]> {
  const payments: Array<{ id: string; status: string; amount_cents: number }> = [];
  const orders: Array<{ payment_id: string; status: string; total_cents: number }> = [];
  const tickets: Array<{ seat_id: string }> = [];
  const sold: Array<{ id: string }> = [];
  const staleHolds: Array<{ id: string }> = [];
  for (const name of platform.databases) {
    const client = new pg.Client({ connectionString: databaseUrl(postgresUrl, name) });
    await client.connect();
    try {
      if (name.includes("_payments_")) payments.push(...(await client.query(`SELECT id, status, amount_cents FROM payments.payments WHERE reference->>'eventId' = ANY($1)`, [eventIds])).rows);
      if (name.includes("_inventory_")) {
        orders.push(...(await client.query(`SELECT payment_id, status, total_cents FROM inventory.orders WHERE event_id = ANY($1)`, [eventIds])).rows);
        tickets.push(...(await client.query(`SELECT seat_id FROM inventory.tickets WHERE event_id = ANY($1) AND voided_at IS NULL`, [eventIds])).rows);
        sold.push(...(await client.query(`SELECT id FROM inventory.seats WHERE event_id = ANY($1) AND status = 'sold'`, [eventIds])).rows);
        staleHolds.push(...(await client.query(`SELECT id FROM inventory.holds WHERE event_id = ANY($1) AND status = 'active' AND expires_at < now() - interval '5 seconds'`, [eventIds])).rows);
      }
    } finally {
      await client.end();
    }
  }
  const violations: string[] = [];
  const confirmed = orders.filter((o) => o.status === "confirmed");
  const confirmedIds = new Set(confirmed.map((o) => o.payment_id));
  const stranded = payments.filter((p) => p.status === "captured" && !confirmedIds.has(p.id));
  if (stranded.length) violations.push(`${stranded.length} captured payment(s) neither confirmed nor refunded`);
  const both = payments.filter((p) => p.status === "refunded" && confirmedIds.has(p.id));
  if (both.length) violations.push(`${both.length} payment(s) refunded and confirmed`);
  const captured = payments.reduce((s, p) => s + Number(p.amount_cents), 0);
  const refunded = payments.filter((p) => p.status === "refunded").reduce((s, p) => s + Number(p.amount_cents), 0);
  const confirmedTotal = confirmed.reduce((s, o) => s + Number(o.total_cents), 0);
  if (captured - refunded !== confirmedTotal) violations.push(`captured − refunded = ${captured - refunded} ≠ confirmed orders ${confirmedTotal}`);
  if (new Set(tickets.map((t) => t.seat_id)).size !== tickets.length) violations.push("a seat is in two tickets");
  if (tickets.length !== sold.length) violations.push(`${tickets.length} live tickets ≠ ${sold.length} sold seats`);
  if (staleHolds.length) violations.push(`${staleHolds.length} hold(s) past expiry still active`);
  return violations;
}

/** A fault in progress: what was done, and a promise that resolves once its cause is gone again. */
interface InjectedFault {
  label: string;
  /** The fault's cause is over (Redis back, database accepting connections); the system recovers from here. */
  over: Promise<void>;
  /** Undoes what the run did that a real incident would also undo (the balancer's list), after the spike. */
  restore?: () => Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The inventory database holding the event's seats, holds and orders (its logical shard's owner in the map). */
function inventoryDatabaseOf(platform: DistributedPlatform, eventId: string): string {
  const map = parseShardMap(readFileSync(platform.shardMapFiles.inventory, "utf8"));
  const shard = physicalShardOf(map, logicalShardOfId(eventId));
  const database = new URL(shard.primary).pathname.slice(1);
  if (!platform.databases.includes(database)) throw new Error(`the inventory shard ${shard.name} (${database}) is not one of the platform's databases`);
  return database;
}

async function injectFault(platform: DistributedPlatform, options: ChaosOptions, eventId: string): Promise<InjectedFault | undefined> {
  const { fault } = options;
  if (fault === "redis") {
    const redis = options.redis;
    if (!redis) throw new Error("the redis fault needs the platform on a private Redis the run may kill (options.redis)");
    await redis.kill();
    const downMs = options.redisDownMs ?? 5_000;
    return { label: `Redis SIGKILLed, restarted empty after ${downMs / 1000} s`, over: sleep(downMs).then(() => redis.restart()) };
  }
  if (fault === "postgres") {
    const database = inventoryDatabaseOf(platform, eventId);
    const terminated = await takeDatabaseOffline(options.postgresUrl, database);
    const downMs = options.databaseDownMs ?? 10_000;
    return {
      label: `inventory database ${database.replace(/^.*_(inventory_\d+)$/, "$1")} refusing connections for ${downMs / 1000} s (${terminated} backends terminated)`,
      over: sleep(downMs).then(() => bringDatabaseOnline(options.postgresUrl, database)),
    };
  }
  if (fault === "balancer") {
    const before = platform.loadBalancer.targets();
    const live = platform.processes.filter((p) => p.service === "gateway" && p.child.exitCode === null && p.child.signalCode === null && p.url && before.includes(p.url));
    if (live.length < 2) return undefined;
    const leaving = live[0];
    await platform.loadBalancer.setTargets(before.filter((url) => url !== leaving.url));
    return { label: `load balancer's list loses ${leaving.name}`, over: Promise.resolve(), restore: () => platform.loadBalancer.setTargets(before) };
  }
  const victim = platform.processes.find((p) => p.service === fault && p.child.exitCode === null && p.child.signalCode === null);
  if (!victim) return undefined;
  victim.child.kill("SIGKILL");
  return { label: `SIGKILL ${victim.name}`, over: Promise.resolve() };
}

/**
 * One fault: a spike of `buyers` purchases (one seat each, `rounds` times); once purchases are
 * under way the fault is injected (a process of that kind SIGKILLed, Redis killed and restarted
 * empty, a database taken off line, a gateway dropped from the balancer's list); then the
 * invariants are awaited (up to `settleMs` after the spike: recovery from the databases takes the
 * reconciler's age).
 */
export async function runChaosFault(platform: DistributedPlatform, options: ChaosOptions): Promise<ChaosRow> {
  const counters = newCounters();
  const organizer = new Buyer(platform.url, newCounters());
  organizer.cookie = options.organizerCookie;
  const created = await organizer.request("POST", "/api/events", {
    title: `Chaos: ${options.fault}`,
    venue: "Chaos Hall",
    startsAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
    sections: [{ name: "Floor", rows: 10, seatsPerRow: 20, priceCents: 1_000 }],
  });
  if (created.status !== 201) throw new Error(`could not create the chaos event: ${created.status} ${JSON.stringify(created.body)}`);
  const eventId = (created.body.event as { id: string }).id;
  // Inventory learns of the event from the firehose: the spike starts once its seats are there (right
  // after a Redis restart the consumers may still be reconnecting, and a hold would be 404).
  const seatsBy = Date.now() + 60_000;
  while ((await organizer.request("GET", `/api/events/${eventId}/seats`)).status !== 200) {
    if (Date.now() > seatsBy) throw new Error(`the chaos event's seats never reached inventory (event ${eventId})`);
    await sleep(250);
  }
  const buyers = await Promise.all(
    Array.from({ length: options.buyers }, async (_, i) => {
      const buyer = new Buyer(platform.url, counters);
      const email = `chaos-${options.fault}-${i}-${randomUUID().slice(0, 8)}@example.test`;
      const deadline = Date.now() + 30_000;
      while ((await buyer.request("POST", "/api/users", { email, password: "a-long-password", displayName: `Chaos ${i}` })).status >= 500 && Date.now() < deadline);
      while ((await buyer.request("POST", "/api/session", { email, password: "a-long-password" })).status !== 200 && Date.now() < deadline);
      return buyer;
    }),
  );
  let faultAt = 0;
  const orderTimes: number[] = [];
  // Long enough for a purchase to outlast the longest outage and the requests it left waiting.
  const deadline = Date.now() + 60_000 + Math.max(options.redisDownMs ?? 5_000, options.databaseDownMs ?? 10_000);
  const spike = Promise.all(
    buyers.map(async (buyer) => {
      for (let round = 0; round < options.rounds; round++) {
        const { orderAt } = await purchase(buyer, eventId, deadline);
        if (orderAt) orderTimes.push(orderAt);
      }
    }),
  );
  const started = Date.now();
  while (orderTimes.length === 0 && Date.now() - started < 20_000) await sleep(50);
  faultAt = Date.now();
  const injected = await injectFault(platform, options, eventId);
  await spike;
  await injected?.over;
  await injected?.restore?.();
  const firstAfter = orderTimes.filter((t) => t > faultAt).sort((a, b) => a - b)[0];
  let violations: string[];
  const settleUntil = Date.now() + options.settleMs;
  do {
    violations = await checkInvariants(platform, options.postgresUrl, [eventId]);
    if (violations.length === 0) break;
    await sleep(1000);
  } while (Date.now() < settleUntil);
  return {
    fault: injected ? injected.label : `${options.fault}: none left to fault`,
    requests: counters.requests,
    answered: counters.answered,
    unavailable503: counters.s503,
    with503RetryAfter: counters.s503RetryAfter,
    other5xx: counters.other5xx,
    other5xxKinds: counters.other5xxKinds,
    refusals: counters.refusals,
    orders: orderTimes.length,
    recoveryMs: injected && firstAfter ? firstAfter - faultAt : null,
    violations,
  };
}

/** The refusals of each row, one line per fault (what the buyers were told besides success). */
export function chaosRefusals(rows: ChaosRow[]): string {
  return rows.map((r) => `${r.fault}: ${Object.entries(r.refusals).sort((a, b) => b[1] - a[1]).map(([kind, n]) => `${n}× ${kind}`).join(", ") || "none"}`).join("\n");
}

export function chaosTable(rows: ChaosRow[]): string {
  const header = "| fault | requests | answered | 503 (with Retry-After) | other 5xx | orders | first order after the fault | invariants |\n|---|---|---|---|---|---|---|---|";
  const kinds = (r: ChaosRow) => Object.entries(r.other5xxKinds).map(([kind, n]) => `${n}× ${kind}`).join(", ");
  const lines = rows.map(
    (r) =>
      `| ${r.fault} | ${r.requests} | ${r.answered} | ${r.unavailable503} (${r.with503RetryAfter}) | ${r.other5xx}${kinds(r) ? ` (${kinds(r)})` : ""} | ${r.orders} | ${r.recoveryMs === null ? "—" : `${(r.recoveryMs / 1000).toFixed(1)} s`} | ${r.violations.length ? r.violations.join("; ") : "hold"} |`,
  );
  return [header, ...lines].join("\n");
}
