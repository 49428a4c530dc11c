// The chaos run: the distributed platform (two of everything) under a purchase spike, one fault at
// a time (SIGKILL of one process of a kind), then recovery, then the money-and-seats invariants
// read from every shard's tables. `npm run chaos` runs every kind and prints the table; the
// platform's tests run a short version.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { databaseUrl } from "./databases.ts";
import type { DistributedPlatform } from "./topology.ts";

export const CHAOS_FAULTS = ["gateway", "users", "events", "inventory", "payments"] as const;
export type ChaosFault = (typeof CHAOS_FAULTS)[number];

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
  orders: number;
  /** Kill → first order confirmed after it, ms. */
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
}

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
      this.counters.answered++;
      if (response.status === 503) {
        this.counters.s503++;
        if (response.headers.get("retry-after")) this.counters.s503RetryAfter++;
      } else if (response.status >= 500) this.counters.other5xx++;
      const cookies = response.headers.getSetCookie().map((c) => c.split(";")[0]);
      if (cookies.length > 0) this.cookie = cookies.join("; ");
      const text = await response.text();
      return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    } catch {
      return { status: 0, body: {} };
    }
  }
}

/** hold one seat, order it; transient failures retried with the same Idempotency-Key until the deadline. */
async function purchase(buyer: Buyer, eventId: string, deadline: number): Promise<{ orderAt?: number }> {
  let holdId: string | undefined;
  while (!holdId) {
    const hold = await buyer.request("POST", `/api/events/${eventId}/holds`, { quantity: 1 });
    if (hold.status === 201) holdId = (hold.body.hold as { id: string }).id;
    else if ((hold.status > 0 && hold.status < 500) || Date.now() > deadline) return {};
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

/**
 * One fault: a spike of `buyers` purchases (one seat each, `rounds` times), the process of that
 * kind with the lowest index still running is SIGKILLed once purchases are under way, then the
 * invariants are awaited (up to `settleMs`: recovery from the databases takes the reconciler's age).
 */
export async function runChaosFault(
  platform: DistributedPlatform,
  options: { fault: ChaosFault; postgresUrl: string; organizerCookie: string; buyers: number; rounds: number; settleMs: number },
): Promise<ChaosRow> {
  const counters: Counters = { requests: 0, answered: 0, s503: 0, s503RetryAfter: 0, other5xx: 0 };
  const organizer = new Buyer(platform.url, { requests: 0, answered: 0, s503: 0, s503RetryAfter: 0, other5xx: 0 });
  organizer.cookie = options.organizerCookie;
  const created = await organizer.request("POST", "/api/events", {
    title: `Chaos: ${options.fault}`,
    venue: "Chaos Hall",
    startsAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
    sections: [{ name: "Floor", rows: 10, seatsPerRow: 20, priceCents: 1_000 }],
  });
  if (created.status !== 201) throw new Error(`could not create the chaos event: ${created.status} ${JSON.stringify(created.body)}`);
  const eventId = (created.body.event as { id: string }).id;
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
  const victim = platform.processes.find((p) => p.service === options.fault && p.child.exitCode === null && p.child.signalCode === null);
  let killedAt = 0;
  const orderTimes: number[] = [];
  const deadline = Date.now() + 60_000;
  const spike = Promise.all(
    buyers.map(async (buyer) => {
      for (let round = 0; round < options.rounds; round++) {
        const { orderAt } = await purchase(buyer, eventId, deadline);
        if (orderAt) orderTimes.push(orderAt);
      }
    }),
  );
  const started = Date.now();
  while (orderTimes.length === 0 && Date.now() - started < 20_000) await new Promise((r) => setTimeout(r, 50));
  if (victim) {
    victim.child.kill("SIGKILL");
    killedAt = Date.now();
  }
  await spike;
  const firstAfter = orderTimes.filter((t) => t > killedAt).sort((a, b) => a - b)[0];
  let violations: string[];
  const settleUntil = Date.now() + options.settleMs;
  do {
    violations = await checkInvariants(platform, options.postgresUrl, [eventId]);
    if (violations.length === 0) break;
    await new Promise((r) => setTimeout(r, 1000));
  } while (Date.now() < settleUntil);
  return {
    fault: victim ? `SIGKILL ${victim.name}` : `${options.fault}: none left to kill`,
    requests: counters.requests,
    answered: counters.answered,
    unavailable503: counters.s503,
    with503RetryAfter: counters.s503RetryAfter,
    other5xx: counters.other5xx,
    orders: orderTimes.length,
    recoveryMs: killedAt && firstAfter ? firstAfter - killedAt : null,
    violations,
  };
}

export function chaosTable(rows: ChaosRow[]): string {
  const header = "| fault | requests | answered | 503 (with Retry-After) | other 5xx | orders | first order after the kill | invariants |\n|---|---|---|---|---|---|---|---|";
  const lines = rows.map(
    (r) =>
      `| ${r.fault} | ${r.requests} | ${r.answered} | ${r.unavailable503} (${r.with503RetryAfter}) | ${r.other5xx} | ${r.orders} | ${r.recoveryMs === null ? "—" : `${(r.recoveryMs / 1000).toFixed(1)} s`} | ${r.violations.length ? r.violations.join("; ") : "hold"} |`,
  );
  return [header, ...lines].join("\n");
}
