// The on-sale spike, driven from Node: an organiser puts an event on sale, then many buyers arrive
// at once and each signs up, signs in, holds seats and pays. It records what every buyer got and
// checks the invariants a spike must not break (never oversell, never a 500, shed load with 503 +
// Retry-After). Buyers follow the waiting room's protocol: a hold refused NOT_ADMITTED joins the
// room and polls until admitted. The same scenario exists for k6 in load-tests/k6/on-sale-spike.ts.
import { randomUUID } from "node:crypto";

export interface OnSaleOptions {
  /** Base URL of a gateway (or load balancer); only loopback addresses are accepted. */
  baseUrl: string;
  buyers: number;
  /** Buyers holding and paying at once during the spike (closed loop: the next starts when one finishes). */
  concurrency: number;
  /**
   * Open loop: buyers arrive at this many per second whatever the platform answers, with no bound
   * on how many are in flight at once (`concurrency` is then unused). Unset: the closed loop above,
   * whose orders/s is bounded by `concurrency` ÷ a buyer's time rather than by the platform.
   */
  arrivalRatePerSecond?: number;
  /** Accounts created at once before the sale opens (bounded by the password KDF). Default 4. */
  signUpConcurrency?: number;
  /** Seats the organiser puts on sale (one section). */
  seats: number;
  /** Seats each buyer asks for: a number, or one per buyer (n counts from 0). */
  quantity?: number | ((buyer: number) => number);
  /** Event page reads (GET /api/events/:id) each buyer makes before holding, as a browser does. Default 0. */
  eventPageReads?: number;
  /** Called once every buyer is signed in, right before the spike (e.g. to read CPU counters). */
  onSpikeStart?: () => void | Promise<void>;
  /** Called when the last buyer is done, before the report's own reads. */
  onSpikeEnd?: () => void | Promise<void>;
  /**
   * The event opens for sale this many seconds after it is created (v1.1): buyers join the waiting
   * room's pre-queue first and hold once admitted. Unset: on sale at once, buyers just hold.
   */
  salesOpenInSeconds?: number;
  /** Hard stop for the whole run. */
  maxDurationMs?: number;
  organizer?: { email: string; password: string };
}

export type BuyerOutcome = "bought" | "sold_out" | "busy" | "limit" | "declined" | "error";

export interface OnSaleReport {
  eventId: string;
  capacity: number;
  outcomes: Record<BuyerOutcome, number>;
  ticketsSold: number;
  seatsAvailableAfter: number;
  serverErrors: number;
  busyWithoutRetryAfter: number;
  /** Buyers who went through the waiting room (joined first, or a hold answered NOT_ADMITTED), and their polls. */
  queued: number;
  waitingPolls: number;
  /** The most buyers in flight at once during the spike (equals `concurrency` in a closed loop that is not starved). */
  peakInFlight: number;
  /** From joining the room to being admitted (or told sold out), for those who waited; 429 answers to polls. */
  waitMs: { p50: number; p99: number; max: number };
  pollsRateLimited: number;
  durationMs: number;
  /** From the spike's start to the last confirmed order: the time seats were being sold (late buyers only hear sold out after it). */
  sellingMs: number;
  purchasesPerSecond: number;
  /** A purchase from the buyer's first hold to the confirmed order: any time in the waiting room included. */
  latencyMs: { p50: number; p99: number };
  /** The checkout alone: the admitted hold and the order (what the room's admission controller steers on), room wait excluded. */
  checkoutMs: { p50: number; p99: number };
  /** The checkout's two calls apart: the admitted hold, and the order (charge and confirmation). */
  holdMs: { p50: number; p99: number };
  orderMs: { p50: number; p99: number };
  errors: string[];
}

const DEFAULT_ORGANIZER = { email: "organizer@boxoffice.test", password: "organizer-password" };

function assertLoopback(baseUrl: string): void {
  const host = new URL(baseUrl).hostname;
  if (!["127.0.0.1", "localhost", "[::1]", "::1"].includes(host)) {
    throw new Error(`load is only sent to this machine; refusing ${host}`);
  }
}

/** A tiny cookie-keeping HTTP client: one per simulated browser. */
class Client {
  private cookies = new Map<string, string>();
  readonly baseUrl: string;
  constructor(baseUrl: string) {
    this.baseUrl = baseUrl;
  }
  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: unknown; headers: Headers }> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    const response = await fetch(this.baseUrl + path, {
      method,
      headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...(cookie ? { cookie } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair.indexOf("=");
      this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: response.status, json, headers: response.headers };
  }
}

function percentile(values: number[], p: number): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function errorCode(json: unknown): string | undefined {
  return (json as { error?: { code?: string } } | null)?.error?.code;
}

/**
 * What an answer tells a buyer under load. The contract's only overload answer is 503 with
 * Retry-After (a deadline that runs out is one too); any other 5xx, 504 included, is a defect, and
 * a 503 without Retry-After leaves the buyer not knowing when to come back.
 */
export function answerKind(status: number, headers: Headers): "answer" | "shed" | "shed_without_retry_after" | "server_error" {
  if (status === 503) return headers.get("retry-after") ? "shed" : "shed_without_retry_after";
  return status >= 500 ? "server_error" : "answer";
}

export async function runOnSale(options: OnSaleOptions): Promise<OnSaleReport> {
  assertLoopback(options.baseUrl);
  const quantityOf = typeof options.quantity === "function" ? options.quantity : () => (options.quantity as number | undefined) ?? 2;
  const deadline = Date.now() + (options.maxDurationMs ?? 120_000);
  const organizer = new Client(options.baseUrl);
  const login = await organizer.request("POST", "/api/session", options.organizer ?? DEFAULT_ORGANIZER);
  if (login.status !== 200) throw new Error(`organiser sign-in failed: ${login.status} ${JSON.stringify(login.json)}`);
  const created = await organizer.request("POST", "/api/events", {
    title: `On-sale spike ${new Date().toISOString()}`,
    venue: "Load Hall",
    startsAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
    salesStartAt: options.salesOpenInSeconds === undefined ? undefined : new Date(Date.now() + options.salesOpenInSeconds * 1000).toISOString(),
    sections: [{ name: "Floor", rows: Math.ceil(options.seats / 10), seatsPerRow: 10, priceCents: 2500 }],
  });
  if (created.status !== 201) throw new Error(`event creation failed: ${created.status} ${JSON.stringify(created.json)}`);
  const eventId = (created.json as { event: { id: string } }).event.id;
  const capacity = Math.ceil(options.seats / 10) * 10;
  // Inventory creates the seats from the firehose, a moment after the event exists.
  for (;;) {
    const page = await organizer.request("GET", `/api/events/${eventId}`);
    const sections = (page.json as { event?: { sections: Array<{ available: number }> } }).event?.sections ?? [];
    if (sections.reduce((sum, x) => sum + x.available, 0) === capacity) break;
    if (Date.now() > deadline) throw new Error(`the event's ${capacity} seats never became available`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const outcomes: Record<BuyerOutcome, number> = { bought: 0, sold_out: 0, busy: 0, limit: 0, declined: 0, error: 0 };
  const errors: string[] = [];
  const latencies: number[] = [];
  const checkouts: number[] = [];
  const holdCalls: number[] = [];
  const orderCalls: number[] = [];
  let ticketsSold = 0;
  let lastOrderAt = 0;
  let serverErrors = 0;
  let busyWithoutRetryAfter = 0;
  let queued = 0;
  let waitingPolls = 0;
  let pollsRateLimited = 0;
  const waits: number[] = [];

  const noteStatus = (status: number, headers: Headers) => {
    const kind = answerKind(status, headers);
    if (kind === "server_error") serverErrors++;
    if (kind === "shed_without_retry_after") busyWithoutRetryAfter++;
  };

  // Accounts exist before the sale opens (people sign up days ahead); signing up is bounded by
  // the password KDF, so it runs at a modest concurrency and is not part of the measured spike.
  async function signedInBuyer(n: number): Promise<Client | "busy"> {
    const client = new Client(options.baseUrl);
    const email = `buyer-${n}-${randomUUID().slice(0, 8)}@load.test`;
    let r = await client.request("POST", "/api/users", { email, password: "load-test-password", displayName: `Buyer ${n}` });
    noteStatus(r.status, r.headers);
    if (r.status === 503) return "busy";
    if (r.status !== 201) throw new Error(`sign-up ${r.status} ${JSON.stringify(r.json)}`);
    r = await client.request("POST", "/api/session", { email, password: "load-test-password" });
    noteStatus(r.status, r.headers);
    if (r.status === 503) return "busy";
    if (r.status !== 200) throw new Error(`sign-in ${r.status} ${JSON.stringify(r.json)}`);
    return client;
  }

  /**
   * The waiting room's protocol (v1.1): a hold refused with NOT_ADMITTED means others are waiting;
   * join the room and ask again after pollAfterSeconds until admitted (or told sold out).
   */
  async function waitInRoom(client: Client): Promise<"admitted" | "sold_out" | "busy"> {
    queued++;
    const joinedAt = Date.now();
    const outcome = await lineUp(client);
    if (outcome !== "busy") waits.push(Date.now() - joinedAt);
    return outcome;
  }

  async function lineUp(client: Client): Promise<"admitted" | "sold_out" | "busy"> {
    let r = await client.request("POST", `/api/events/${eventId}/queue`);
    noteStatus(r.status, r.headers);
    for (;;) {
      if (r.status === 503) return "busy";
      if (r.status === 409 && errorCode(r.json) === "SOLD_OUT") return "sold_out";
      if (r.status === 429) {
        pollsRateLimited++;
        await new Promise((resolve) => setTimeout(resolve, Number(r.headers.get("retry-after") ?? 1) * 1000));
      } else {
        if (r.status !== 200) throw new Error(`queue ${r.status} ${JSON.stringify(r.json)}`);
        const queue = (r.json as { queue: { status: string; pollAfterSeconds: number } }).queue;
        if (queue.status === "admitted") return "admitted";
        if (queue.status === "sold_out") return "sold_out";
        if (queue.status === "expired") {
          r = await client.request("POST", `/api/events/${eventId}/queue`);
          noteStatus(r.status, r.headers);
          continue;
        }
        if (Date.now() > deadline) return "busy";
        await new Promise((resolve) => setTimeout(resolve, queue.pollAfterSeconds * 1000));
      }
      r = await client.request("GET", `/api/events/${eventId}/queue`);
      noteStatus(r.status, r.headers);
      waitingPolls++;
    }
  }

  async function buy(client: Client, n: number): Promise<BuyerOutcome> {
    const quantity = quantityOf(n);
    for (let read = 0; read < (options.eventPageReads ?? 0); read++) {
      const page = await client.request("GET", `/api/events/${eventId}`);
      noteStatus(page.status, page.headers);
      if (page.status !== 200 && page.status !== 503) throw new Error(`event page ${page.status} ${JSON.stringify(page.json)}`);
    }
    if (options.salesOpenInSeconds !== undefined) {
      const room = await waitInRoom(client);
      if (room !== "admitted") return room;
    }
    const started = Date.now();
    let checkoutStarted = started;
    let r = await client.request("POST", `/api/events/${eventId}/holds`, { quantity });
    noteStatus(r.status, r.headers);
    if (r.status === 409 && errorCode(r.json) === "NOT_ADMITTED") {
      const room = await waitInRoom(client);
      if (room !== "admitted") return room;
      checkoutStarted = Date.now();
      r = await client.request("POST", `/api/events/${eventId}/holds`, { quantity });
      noteStatus(r.status, r.headers);
    }
    if (r.status === 503) return "busy";
    if (r.status === 409 && errorCode(r.json) === "SOLD_OUT") return "sold_out";
    if (r.status === 409 && errorCode(r.json) === "LIMIT_EXCEEDED") return "limit";
    if (r.status !== 201) throw new Error(`hold ${r.status} ${JSON.stringify(r.json)}`);
    const holdId = (r.json as { hold: { id: string } }).hold.id;
    const orderStarted = Date.now();
    holdCalls.push(orderStarted - checkoutStarted);
    r = await client.request(
      "POST",
      "/api/orders",
      { holdId, payment: { cardNumber: "4242424242424242", expMonth: 12, expYear: 2035, cvc: "123" } },
      { "idempotency-key": randomUUID() },
    );
    noteStatus(r.status, r.headers);
    if (r.status === 503) return "busy";
    if (r.status === 402) return "declined";
    if (r.status !== 201) throw new Error(`order ${r.status} ${JSON.stringify(r.json)}`);
    latencies.push(Date.now() - started);
    lastOrderAt = Date.now();
    checkouts.push(Date.now() - checkoutStarted);
    orderCalls.push(Date.now() - orderStarted);
    ticketsSold += (r.json as { order: { tickets: unknown[] } }).order.tickets.length;
    return "bought";
  }

  async function inPool<T>(count: number, concurrency: number, work: (n: number) => Promise<T>): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, count) }, async () => {
        while (next < count && Date.now() < deadline) await work(next++);
      }),
    );
  }

  const clients: Client[] = [];
  await inPool(options.buyers, options.signUpConcurrency ?? 4, async (n) => {
    try {
      const client = await signedInBuyer(n);
      if (client === "busy") outcomes.busy++;
      else clients.push(client);
    } catch (error) {
      outcomes.error++;
      if (errors.length < 10) errors.push((error as Error).message);
    }
  });

  let inFlight = 0;
  let peakInFlight = 0;
  const buyer = async (n: number) => {
    peakInFlight = Math.max(peakInFlight, ++inFlight);
    try {
      outcomes[await buy(clients[n], n)]++;
    } catch (error) {
      outcomes.error++;
      if (errors.length < 10) errors.push((error as Error).message);
    } finally {
      inFlight--;
    }
  };
  /** Open loop: buyer n starts at n ÷ rate seconds into the spike, on a schedule that does not wait for answers. */
  async function arriving(ratePerSecond: number): Promise<void> {
    const running: Promise<void>[] = [];
    const from = performance.now();
    for (let n = 0; n < clients.length && Date.now() < deadline; n++) {
      const due = from + (n * 1000) / ratePerSecond;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      running.push(buyer(n));
    }
    await Promise.all(running);
  }

  await options.onSpikeStart?.();
  const started = Date.now();
  if (options.arrivalRatePerSecond !== undefined) await arriving(options.arrivalRatePerSecond);
  else await inPool(clients.length, options.concurrency, buyer);
  const durationMs = Date.now() - started;
  await options.onSpikeEnd?.();
  const page = await organizer.request("GET", `/api/events/${eventId}`);
  const seatsAvailableAfter = (page.json as { event: { sections: Array<{ available: number }> } }).event.sections.reduce((s, x) => s + x.available, 0);
  return {
    eventId,
    capacity,
    outcomes,
    ticketsSold,
    seatsAvailableAfter,
    serverErrors,
    busyWithoutRetryAfter,
    queued,
    waitingPolls,
    peakInFlight,
    waitMs: { p50: percentile(waits, 50), p99: percentile(waits, 99), max: percentile(waits, 100) },
    pollsRateLimited,
    durationMs,
    sellingMs: lastOrderAt > 0 ? lastOrderAt - started : 0,
    purchasesPerSecond: outcomes.bought / (durationMs / 1000),
    latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
    checkoutMs: { p50: percentile(checkouts, 50), p99: percentile(checkouts, 99) },
    holdMs: { p50: percentile(holdCalls, 50), p99: percentile(holdCalls, 99) },
    orderMs: { p50: percentile(orderCalls, 50), p99: percentile(orderCalls, 99) },
    errors,
  };
}
