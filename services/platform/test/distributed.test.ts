// The platform as separate OS processes (two gateways behind the load balancer, two instances of
// each service, two Postgres databases per service) against the real Redis and Postgres: buyers
// purchase through the load balancer while one inventory instance is killed with SIGKILL. The
// other instance keeps serving, no purchase is lost or doubled, and the dead instance's work is
// recovered (its holds expire; captured payments are confirmed from the firehose), checked in
// the payments and inventory ledgers of every shard as well as through the API.
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requirePostgres, requireRedis, uniqueName, waitFor } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client, type Reply } from "./http-client.ts";
import { launchChromium, requireChromium } from "./chromium.ts";
import pg from "pg";
import { databaseUrl } from "../src/distributed/databases.ts";
import { startDistributedPlatform, type DistributedPlatform } from "../src/distributed/topology.ts";

const redis = await requireRedis();
const postgres = await requirePostgres();

const HOLD_TTL_SECONDS = 6;
const CARD = { cardNumber: "4242424242424242", expMonth: 12, expYear: 2030, cvc: "123" };
const ORGANIZER = { email: "organizer@boxoffice.test", password: "organizer-password" };

interface Order {
  id: string;
  status: string;
  eventId: string;
  tickets: Array<{ id: string; seatId: string; code: string }>;
}

interface Outcome {
  buyer: number;
  /** The order the buyer was told about (201), if any. */
  order?: Order;
  /** What ended the attempt when there was no order (SOLD_OUT, LIMIT_EXCEEDED, HOLD_EXPIRED, …). */
  final?: string;
  /** Answers that were not final (5xx) before the final one: the kill's footprint. */
  retried: number;
  /** Of those, answers to the order request itself. */
  orderRetried?: number;
  holdId?: string;
  idempotencyKey?: string;
  /** The order was confirmed while the buyer waited, before any retry: recovery from the firehose. */
  recoveredBeforeRetry?: boolean;
}

const isTransient = (status: number) => status >= 500 || status === 0;

/** Order requests sent and not answered yet (the kill waits for some to be inside inventory). */
let ordersInFlight = 0;

/** Polls the buyer's orders until the one for `holdId` is confirmed; false when it does not appear in time. */
async function orderOfHoldConfirmed(client: Client, holdId: string, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const listed = await client.request("GET", "/api/orders").catch(() => undefined);
    const orders = (listed?.body.orders ?? []) as Array<Order & { holdId?: string }>;
    if (orders.some((o) => o.holdId === holdId && o.status === "confirmed")) return true;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  return false;
}

/**
 * hold 1 seat → order it, retrying what failed transiently; the order with the same
 * Idempotency-Key. With `awaitRecovery`, a failed order is first left alone for a while to see
 * whether the platform finishes it by itself (a captured payment confirmed from the firehose).
 */
async function purchase(client: Client, buyer: number, eventId: string, deadline: number, awaitRecovery = false): Promise<Outcome> {
  let retried = 0;
  let holdId: string | undefined;
  while (!holdId) {
    const hold = await client.request("POST", `/api/events/${eventId}/holds`, { quantity: 1 }).catch(() => ({ status: 0, body: {}, retryAfter: null }) as Reply);
    if (hold.status === 201) holdId = (hold.body.hold as { id: string }).id;
    else if (!isTransient(hold.status)) return { buyer, final: String((hold.body.error as { code?: string } | undefined)?.code ?? hold.status), retried };
    else if (Date.now() > deadline) return { buyer, final: `hold kept failing (${hold.status})`, retried };
    else retried++;
  }
  const key = randomUUID();
  let orderRetried = 0;
  let recoveredBeforeRetry = false;
  for (;;) {
    ordersInFlight++;
    const order = await client
      .request("POST", "/api/orders", { holdId, payment: CARD }, { "idempotency-key": key })
      .catch(() => ({ status: 0, body: {}, retryAfter: null }) as Reply)
      .finally(() => ordersInFlight--);
    if (order.status === 201) return { buyer, order: order.body.order as Order, retried, orderRetried, holdId, idempotencyKey: key, recoveredBeforeRetry };
    if (!isTransient(order.status)) return { buyer, final: String((order.body.error as { code?: string } | undefined)?.code ?? order.status), retried };
    if (Date.now() > deadline) return { buyer, final: `order kept failing (${order.status})`, retried };
    retried++;
    orderRetried++;
    if (awaitRecovery && orderRetried === 1) recoveredBeforeRetry = await orderOfHoldConfirmed(client, holdId, 10_000);
    else await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const chromium = requireChromium();

describe.skipIf(!redis.available || !postgres.available)("the platform as separate processes behind a load balancer", () => {
  let platform: DistributedPlatform;
  const logs: string[] = [];
  const lastLogs = () => logs.slice(-60).join("\n");

  beforeAll(async () => {
    platform = await startDistributedPlatform({
      redisUrl: redis.url,
      postgresUrl: postgres.url,
      busPrefix: uniqueName("distributed"),
      databasePrefix: uniqueName("bo_dist"),
      stateDir: join(tmpdir(), uniqueName("boxoffice_distributed")),
      port: 0,
      logLevel: "warn",
      dropDatabasesOnStop: true,
      startTimeoutMs: 100_000,
      env: {
        HOLD_TTL_SECONDS: String(HOLD_TTL_SECONDS),
        // Recovery of a dead consumer's unacknowledged payment.captured within the test's time.
        INVENTORY_CONSUMER_VISIBILITY_MS: "2000",
        INVENTORY_SWEEP_INTERVAL_MS: "500",
        // A slow card processor keeps checkouts inside inventory long enough to be caught by the kill.
        PAYMENTS_LATENCY_MS: "1000",
        RPC_DEADLINE_MS: "4000",
        // Cheaper password hashing: this test is about the processes (the gateways serve the web UI
        // for the operator console's browser check).
        USERS_SCRYPT_LOG_N: "10",
      },
      onOutput: (name, line) => {
        logs.push(`${name} | ${line}`);
        if (logs.length > 5000) logs.shift();
      },
    });
  }, 110_000);

  afterAll(async () => {
    const result = await platform?.stop();
    if (result && !result.clean) console.warn(`some processes did not drain cleanly:\n${lastLogs()}`);
  }, 60_000);

  it("when the topology is up, it runs two gateways and two instances of each service, each service on two databases", () => {
    const count = (service: string) => platform.processes.filter((p) => p.service === service).length;
    for (const service of ["gateway", "users", "events", "inventory", "payments"]) expect(count(service), service).toBe(2);
    expect(platform.databases).toHaveLength(8);
    expect(platform.loadBalancer.healthyTargets()).toHaveLength(2);
  });

  /** The operator console's instances, as the demo operator sees them through the load balancer. */
  async function consoleInstances(): Promise<Array<{ service: string; instance: string; gone: boolean }>> {
    const operator = new Client(platform.url);
    await operator.signIn("operator@boxoffice.test", "operator-password");
    const reply = await operator.request("GET", "/api/ops/overview");
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    return (reply.body.overview as { instances: Array<{ service: string; instance: string; gone: boolean }> }).instances;
  }
  const liveCount = (instances: Array<{ service: string; gone: boolean }>, service: string) => instances.filter((i) => i.service === service && !i.gone).length;

  it("when the operator opens the console, every process of the topology is there and live", async () => {
    await waitFor(async () => {
      const instances = await consoleInstances();
      return ["gateway", "users", "events", "inventory", "payments"].every((s) => liveCount(instances, s) === 2) || undefined;
    }, { timeoutMs: 15_000, intervalMs: 500, what: "two live instances of every service and gateway in the console" });
  }, 30_000);

  it("when a browser opens the live socket through the load balancer, a hold made on the other side arrives on it", async () => {
    const organizer = new Client(platform.url);
    await organizer.signIn(ORGANIZER.email, ORGANIZER.password);
    const created = await organizer.request("POST", "/api/events", {
      title: "Live socket night",
      venue: "Socket Hall",
      startsAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
      sections: [{ name: "Floor", rows: 1, seatsPerRow: 10, priceCents: 1_000 }],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const eventId = (created.body.event as { id: string }).id;
    const socket = new WebSocket(`${platform.url.replace("http", "ws")}/api/events/${eventId}/live`);
    const messages: Array<{ type: string; eventId: string; available: number }> = [];
    socket.addEventListener("message", (event) => messages.push(JSON.parse(String(event.data)) as { type: string; eventId: string; available: number }));
    try {
      await new Promise<void>((resolve, reject) => {
        socket.addEventListener("open", () => resolve());
        socket.addEventListener("error", () => reject(new Error("the live socket did not open through the load balancer")));
      });
      const buyer = new Client(platform.url);
      const email = `live-${randomUUID().slice(0, 8)}@example.test`;
      expect((await buyer.request("POST", "/api/users", { email, password: "a-long-password", displayName: "Live" })).status).toBe(201);
      await buyer.signIn(email, "a-long-password");
      // The hold may land on either gateway; the socket's gateway hears of it over the bus.
      await waitFor(async () => {
        const hold = await buyer.request("POST", `/api/events/${eventId}/holds`, { quantity: 1 });
        expect(hold.status, JSON.stringify(hold.body)).toBe(201);
        return true;
      }, { timeoutMs: 10_000, what: "a hold" });
      const update = await waitFor(() => messages.find((m) => m.type === "availability" && m.eventId === eventId && m.available < 10), { timeoutMs: 15_000, what: "an availability message after the hold" });
      expect(update.available).toBe(9);
    } finally {
      socket.close();
    }
  }, 60_000);

  it("when inventory instance 0 is killed with SIGKILL mid-traffic, purchases go on, none is lost or doubled, and its holds and payments are recovered", async () => {
    const organizer = new Client(platform.url);
    await organizer.signIn(ORGANIZER.email, ORGANIZER.password);
    const created = await organizer.request("POST", "/api/events", {
      title: "Distributed test night",
      venue: "Process Hall",
      startsAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
      sections: [{ name: "Stalls", rows: 4, seatsPerRow: 10, priceCents: 2_500 }],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const eventId = (created.body.event as { id: string }).id;

    const buyers = await Promise.all(Array.from({ length: 6 }, async (_, i) => {
      const client = new Client(platform.url);
      const email = `buyer-${i}-${randomUUID().slice(0, 8)}@example.test`;
      const signUp = await client.request("POST", "/api/users", { email, password: "a-long-password", displayName: `Buyer ${i}` });
      expect(signUp.status, JSON.stringify(signUp.body)).toBe(201);
      await client.signIn(email, "a-long-password");
      return client;
    }));

    // Before the kill: every buyer purchases once, through the load balancer.
    const before = await Promise.all(buyers.map((client, i) => purchase(client, i, eventId, Date.now() + 30_000)));
    for (const outcome of before) expect(outcome.order?.status, `buyer ${outcome.buyer}: ${outcome.final}\n${lastLogs()}`).toBe("confirmed");

    // During: three more purchases each, all at once. inventory#1 is paused (SIGSTOP) until the
    // kill, so the checkouts in flight are certainly inside inventory#0 when it dies with SIGKILL.
    const victim = platform.processes.find((p) => p.name === "inventory#0")!;
    const survivor = platform.processes.find((p) => p.name === "inventory#1")!;
    survivor.child.kill("SIGSTOP");
    const deadline = Date.now() + 60_000;
    let during: Promise<Outcome[][]> | undefined;
    try {
      during = Promise.all(buyers.map(async (client, i) => {
        const outcomes: Outcome[] = [];
        for (let round = 0; round < 3; round++) outcomes.push(await purchase(client, i, eventId, deadline, true));
        return outcomes;
      }));
      await waitFor(() => ordersInFlight >= 3, { timeoutMs: 20_000, what: "checkouts in flight" });
      await new Promise((resolve) => setTimeout(resolve, 300));
      victim.child.kill("SIGKILL");
    } finally {
      survivor.child.kill("SIGCONT");
    }
    const outcomes = [...before, ...(await during).flat()];
    expect(victim.exitSignal()).toBe("SIGKILL");
    expect(survivor.child.exitCode, "the other inventory instance is still running").toBeNull();
    // The checkouts that were inside inventory#0 failed for their buyers at first; their captured
    // payments were confirmed from the firehose while nobody retried, and the retry with the same
    // Idempotency-Key returned that order: recovered, not lost.
    const recovered = outcomes.filter((o) => o.order && o.recoveredBeforeRetry);
    expect(recovered.length, `checkouts confirmed by recovery (failed at first: ${outcomes.filter((o) => (o.orderRetried ?? 0) > 0).length})\n${lastLogs()}`).toBeGreaterThan(0);

    // Requests kept being served: every attempt ended with an order or a final answer.
    const stuck = outcomes.filter((o) => o.final?.includes("kept failing"));
    expect(stuck, lastLogs()).toEqual([]);
    const after = outcomes.slice(before.length).filter((o) => o.order);
    expect(after.length, "purchases completed after the kill").toBeGreaterThan(0);

    // The dead instance's holds expire: no seat stays held.
    await waitFor(async () => {
      const seats = await organizer.request("GET", `/api/events/${eventId}/seats`);
      return (seats.body.seats as Array<{ status: string }>).every((seat) => seat.status !== "held");
    }, { timeoutMs: (HOLD_TTL_SECONDS + 15) * 1000, intervalMs: 500, what: "every hold to expire or turn into tickets" });

    // Nothing lost, nothing doubled: each buyer's orders are exactly the ones they were told about,
    // every sold seat is in exactly one confirmed order, and no seat is in two.
    const told = new Map<number, Set<string>>();
    for (const outcome of outcomes) if (outcome.order) told.set(outcome.buyer, (told.get(outcome.buyer) ?? new Set()).add(outcome.order.id));
    const allTickets: string[] = [];
    await waitFor(async () => {
      allTickets.length = 0;
      for (const [i, client] of buyers.entries()) {
        const listed = await client.request("GET", "/api/orders");
        if (listed.status !== 200) return false;
        const orders = (listed.body.orders as Order[]).filter((o) => o.eventId === eventId);
        const ids = orders.map((o) => o.id);
        if (new Set(ids).size !== ids.length) throw new Error(`buyer ${i} sees an order twice: ${ids.join(", ")}`);
        const expected = [...(told.get(i) ?? [])].sort();
        if (JSON.stringify([...ids].sort()) !== JSON.stringify(expected)) throw new Error(`buyer ${i} has orders ${ids.sort().join(", ")}, was told ${expected.join(", ")}`);
        if (orders.some((o) => o.status !== "confirmed")) return false;
        allTickets.push(...orders.flatMap((o) => o.tickets.map((t) => t.seatId)));
      }
      return true;
    }, { timeoutMs: 20_000, intervalMs: 500, what: "every buyer's orders to be exactly the confirmed ones they were told about" });
    expect(new Set(allTickets).size, "no seat is in two orders").toBe(allTickets.length);
    const seats = (await organizer.request("GET", `/api/events/${eventId}/seats`)).body.seats as Array<{ id: string; status: string }>;
    const sold = seats.filter((seat) => seat.status === "sold").map((seat) => seat.id).sort();
    expect(sold, "sold seats are exactly the ticketed ones").toEqual([...allTickets].sort());

    // Replaying an order with its Idempotency-Key returns the same order and buys nothing more.
    for (const outcome of outcomes.filter((o) => o.order).slice(-2)) {
      const replay = await buyers[outcome.buyer].request("POST", "/api/orders", { holdId: outcome.holdId, payment: CARD }, { "idempotency-key": outcome.idempotencyKey! });
      expect(replay.status).toBe(201);
      expect((replay.body.order as Order).id).toBe(outcome.order!.id);
    }
    const soldAfterReplay = ((await organizer.request("GET", `/api/events/${eventId}/seats`)).body.seats as Array<{ status: string }>).filter((seat) => seat.status === "sold");
    expect(soldAfterReplay).toHaveLength(sold.length);

    // Money, read from the ledgers themselves across every shard: each captured payment for this
    // event is a confirmed order or refunded (never neither: a buyer told HOLD_EXPIRED after being
    // charged would otherwise pass), and captured − refunded equals the confirmed orders' total.
    const ledger = async () => {
      const payments: Array<{ id: string; status: string; amount_cents: number }> = [];
      const orders: Array<{ payment_id: string; status: string; total_cents: number }> = [];
      for (const name of platform.databases) {
        const client = new pg.Client({ connectionString: databaseUrl(postgres.url, name) });
        await client.connect();
        try {
          if (name.includes("_payments_")) {
            payments.push(...(await client.query(`SELECT id, status, amount_cents FROM payments.payments WHERE reference->>'eventId' = $1`, [eventId])).rows);
          }
          if (name.includes("_inventory_")) {
            orders.push(...(await client.query(`SELECT payment_id, status, total_cents FROM inventory.orders WHERE event_id = $1`, [eventId])).rows);
          }
        } finally {
          await client.end();
        }
      }
      return { payments, orders };
    };
    const money = await waitFor(async () => {
      const { payments, orders } = await ledger();
      const confirmed = new Set(orders.filter((o) => o.status === "confirmed").map((o) => o.payment_id));
      const stranded = payments.filter((p) => p.status === "captured" && !confirmed.has(p.id));
      return stranded.length === 0 ? { payments, orders } : undefined;
    }, { timeoutMs: 30_000, intervalMs: 500, what: "every captured payment confirmed into an order or refunded (checked in both ledgers)" });
    const confirmedOrders = money.orders.filter((o) => o.status === "confirmed");
    expect(money.payments.filter((p) => p.status === "refunded" && confirmedOrders.some((o) => o.payment_id === p.id)), "refunded and confirmed at once").toEqual([]);
    const captured = money.payments.reduce((sum, p) => sum + Number(p.amount_cents), 0);
    const refunded = money.payments.filter((p) => p.status === "refunded").reduce((sum, p) => sum + Number(p.amount_cents), 0);
    expect(captured - refunded).toBe(confirmedOrders.reduce((sum, o) => sum + Number(o.total_cents), 0));
    expect(confirmedOrders).toHaveLength(outcomes.filter((o) => o.order).length);
  }, 110_000);

  it("when inventory instance 0 was killed with SIGKILL, the console (API and the #/ops page in Chromium) shows one inventory instance gone within 10 s and everything else live", async () => {
    const instances = await waitFor(async () => {
      const list = await consoleInstances();
      return list.filter((i) => i.service === "inventory" && i.gone).length === 1 ? list : undefined;
    }, { timeoutMs: 10_000, intervalMs: 500, what: "the killed inventory instance shown as gone" });
    expect(liveCount(instances, "inventory")).toBe(1);
    for (const service of ["gateway", "users", "events", "payments"]) expect(liveCount(instances, service), service).toBe(2);

    // And the operator sees it in the console's picture, in a real browser through the load balancer.
    if (!chromium.available) return;
    const browser = await launchChromium();
    try {
      const page = await (await browser.newContext({ viewport: { width: 1200, height: 900 } })).newPage();
      await page.goto(`${platform.url}/#/signin?next=%2Fops`);
      await page.getByLabel("Email").fill("operator@boxoffice.test");
      await page.getByLabel("Password").fill("operator-password");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("heading", { name: "Operator console" }).waitFor();
      await page.locator('[data-service="inventory"] .ops-gone').first().waitFor({ timeout: 10_000 });
      await waitFor(async () => {
        const live = await Promise.all(["gateway", "users", "events", "inventory", "payments"].map((service) => page.locator(`[data-service="${service}"] .ops-live`).count()));
        return live.join() === "2,2,2,1,2" || undefined;
      }, { timeoutMs: 10_000, intervalMs: 250, what: "every process live in the console's boxes but the killed inventory instance" });
      expect(await page.locator('[data-service="inventory"] .ops-gone').count()).toBe(1);
    } finally {
      await browser.close();
    }
  }, 60_000);

  // Last in this file: it kills a gateway, and the tests above count two live ones.
  it("when a gateway is killed with SIGKILL while buyers wait in the room, every buyer keeps their place on the other one and is admitted in turn", async () => {
    const organizer = new Client(platform.url);
    await organizer.signIn(ORGANIZER.email, ORGANIZER.password);
    const created = await organizer.request("POST", "/api/events", {
      title: "Waiting room night",
      venue: "Queue Hall",
      startsAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
      sections: [{ name: "Floor", rows: 1, seatsPerRow: 20, priceCents: 1_500 }],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const eventId = (created.body.event as { id: string }).id;
    const queuePath = `/api/events/${eventId}/queue`;
    // Paused, so nobody is admitted while we look: every buyer who joins waits.
    const paused = await organizer.request("PATCH", queuePath, { paused: true });
    expect(paused.status, JSON.stringify(paused.body)).toBe(200);

    // Eight buyers, half talking to each gateway directly, join one after another.
    const [doomed, survivor] = platform.processes.filter((p) => p.service === "gateway");
    const buyers: Client[] = [];
    const joinedAt: number[] = [];
    for (let i = 0; i < 8; i++) {
      const client = new Client((i % 2 === 0 ? doomed : survivor).url!);
      const email = `room-${i}-${randomUUID().slice(0, 8)}@example.test`;
      expect((await client.request("POST", "/api/users", { email, password: "a-long-password", displayName: `Waiting ${i}` })).status).toBe(201);
      await client.signIn(email, "a-long-password");
      const joined = await client.request("POST", queuePath);
      expect(joined.status, JSON.stringify(joined.body)).toBe(200);
      expect(joined.body.queue).toMatchObject({ status: "waiting", position: i + 1 });
      joinedAt.push((joined.body.queue as { position: number }).position);
      buyers.push(client);
    }

    doomed.child.kill("SIGKILL");
    await doomed.exited;
    expect(doomed.exitSignal()).toBe("SIGKILL");

    // Everyone now goes through the load balancer (the dead gateway's buyers with the same cookie):
    // each one's place is exactly the one they had.
    const moved = buyers.map((client) => Object.assign(new Client(platform.url), { cookie: client.cookie }));
    for (const [i, client] of moved.entries()) {
      const polled = await waitFor(async () => {
        const reply = await client.request("GET", queuePath);
        return reply.status === 200 ? reply : undefined; // a 502 while the balancer learns the gateway is gone
      }, { timeoutMs: 15_000, intervalMs: 300, what: `buyer ${i}'s place after the kill` });
      expect(polled.body.queue, `buyer ${i} (joined at position ${joinedAt[i]})`).toMatchObject({ status: "waiting", position: joinedAt[i] });
    }
    const stats = await organizer.request("GET", `${queuePath}/stats`);
    expect(stats.body.stats).toMatchObject({ waiting: 8, admitted: 0, paused: true });

    // Reopened with one admission at a time: they are admitted in the order they joined, and buy.
    expect((await organizer.request("PATCH", queuePath, { paused: false, maxAdmitted: 1 })).status).toBe(200);
    for (const [i, client] of moved.entries()) {
      await waitFor(async () => {
        const reply = await client.request("GET", queuePath);
        return (reply.body.queue as { status: string } | undefined)?.status === "admitted" || undefined;
      }, { timeoutMs: 20_000, intervalMs: 1000, what: `buyer ${i} (joined at position ${joinedAt[i]}) admitted` });
      // One admitted at a time, and it is this buyer: nobody behind went first.
      expect((await organizer.request("GET", `${queuePath}/stats`)).body.stats, `when buyer ${i} is admitted`).toMatchObject({ waiting: 7 - i, admitted: 1 });
      const hold = await client.request("POST", `/api/events/${eventId}/holds`, { quantity: 1 });
      expect(hold.status, JSON.stringify(hold.body)).toBe(201);
      const order = await client.request("POST", "/api/orders", { holdId: (hold.body.hold as { id: string }).id, payment: CARD }, { "idempotency-key": randomUUID() });
      expect(order.status, JSON.stringify(order.body)).toBe(201);
    }
  }, 90_000);
});
