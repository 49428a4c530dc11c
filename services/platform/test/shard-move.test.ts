// A shard move proven through the running services: the platform as separate processes (one
// gateway, one instance of each service, two Postgres databases per service) while buyers
// purchase a hot event through the gateway, and `npm run shards -- move` (the real CLI, as an
// operator runs it) moves the event's logical shard in inventory and in events, and a buyer's in
// payments and users, at the same time. Afterwards every row of those logical shards is on the
// target and gone from the source, no existing resource answered 404, every 503 said when to
// come back, every captured payment is a confirmed order or refunded, and no seat is in two orders.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import {
  LOGICAL_SHARD_COUNT,
  createShardRouter,
  loadShardMap,
  logicalShardOf,
  logicalShardOfId,
  ownedLogicalShards,
  physicalShardOf,
  shardedTables,
  type ShardMap,
  type SqlExecutor,
} from "@boxoffice/sharding";
import { requirePostgres, requireRedis, uniqueName, waitFor } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client, type Reply } from "./http-client.ts";
import { startDistributedPlatform, type DistributedPlatform } from "../src/distributed/topology.ts";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..", "..", "..");
const redis = await requireRedis();
const postgres = await requirePostgres();

const CARD = { cardNumber: "4242424242424242", expMonth: 12, expYear: 2030, cvc: "123" };
const ORGANIZER = { email: "organizer@boxoffice.test", password: "organizer-password" };
const BUYERS = 16;
const PURCHASES_EACH = 6;

/** What the buyers saw, by request kind. */
class Tally {
  readonly statuses = new Map<string, number>();
  readonly notFound: string[] = [];
  readonly unavailableWithoutRetryAfter: string[] = [];
  note(what: string, reply: Reply): void {
    const key = `${what} ${reply.status}`;
    this.statuses.set(key, (this.statuses.get(key) ?? 0) + 1);
    if (reply.status === 404) this.notFound.push(`${what}: ${JSON.stringify(reply.body)}`);
    if (reply.status === 503 && !reply.retryAfter) this.unavailableWithoutRetryAfter.push(`${what}: ${JSON.stringify(reply.body)}`);
  }
  count(predicate: (key: string) => boolean): number {
    let n = 0;
    for (const [key, value] of this.statuses) if (predicate(key)) n += value;
    return n;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!redis.available || !postgres.available)("moving shards of the running services under purchase traffic", () => {
  let platform: DistributedPlatform;
  const logs: string[] = [];
  const lastLogs = () => logs.slice(-40).join("\n");

  beforeAll(async () => {
    platform = await startDistributedPlatform({
      redisUrl: redis.url,
      postgresUrl: postgres.url,
      busPrefix: uniqueName("shardmove"),
      databasePrefix: uniqueName("bo_mv"),
      stateDir: join(tmpdir(), uniqueName("boxoffice_shardmove")),
      port: 0,
      instances: 1,
      gateways: 1,
      shardsPerService: 2,
      logLevel: "warn",
      dropDatabasesOnStop: true,
      startTimeoutMs: 100_000,
      env: {
        // A card processor slow enough that checkouts are in flight while the fence is up.
        PAYMENTS_LATENCY_MS: "150",
        RPC_DEADLINE_MS: "5000",
        USERS_SCRYPT_LOG_N: "10",
        SERVE_WEB: "false",
        // This test is about the move, not the line: the waiting room admits every hold at once
        // (its adaptive rate would otherwise, rightly, queue 16 buyers hammering one event).
        ADMISSION_RATE_INITIAL: "10000",
        ADMISSION_RATE_MIN: "10000",
        ADMISSION_RATE_MAX: "10000",
      },
      onOutput: (name, line) => {
        logs.push(`${name} | ${line}`);
        if (logs.length > 3000) logs.shift();
      },
    });
  }, 110_000);

  afterAll(async () => {
    await platform?.stop();
  }, 60_000);

  /** Raw SQL on one physical shard of a service, through the same lib the services use. */
  function shardSql(service: "users" | "events" | "inventory" | "payments"): { map: () => ShardMap; on: (name: string) => SqlExecutor; close: () => Promise<void> } {
    const file = platform.shardMapFiles[service];
    const router = createShardRouter({ map: loadShardMap({ file }), createClient: () => undefined, mapRefreshMs: 0 });
    return { map: () => loadShardMap({ file }), on: (name) => router.sql.forShard(name), close: () => router.close() };
  }

  async function shardsCli(service: "users" | "events" | "inventory" | "payments", args: string[]): Promise<string> {
    const env = { ...process.env, SHARD_MAP: "", SHARD_MAP_FILE: platform.shardMapFiles[service] };
    const { stdout } = await run(process.execPath, [join(ROOT, "tools/shards.ts"), ...args], { env, cwd: ROOT, timeout: 180_000 });
    return stdout;
  }
  const moveWithCli = (service: "users" | "events" | "inventory" | "payments", logical: number, to: string) => shardsCli(service, ["move", String(logical), "--to", to]);

  it("when the hot event's logical shard moves mid-spike, its data lands on the target, nothing answers 404, and every payment is an order or a refund", async () => {
    const organizer = new Client(platform.url);
    await organizer.signIn(ORGANIZER.email, ORGANIZER.password);
    const created = await organizer.request("POST", "/api/events", {
      title: "Shard move night",
      venue: "Moving Hall",
      startsAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
      sections: [{ name: "Floor", rows: 5, seatsPerRow: 25, priceCents: 3_000 }],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const eventId = (created.body.event as { id: string }).id;

    const emails: string[] = [];
    const buyers = await Promise.all(
      Array.from({ length: BUYERS }, async (_, i) => {
        const client = new Client(platform.url);
        const email = `mover-${i}-${randomUUID().slice(0, 8)}@example.test`;
        emails.push(email);
        const signUp = await client.request("POST", "/api/users", { email, password: "a-long-password", displayName: `Mover ${i}` });
        expect(signUp.status, JSON.stringify(signUp.body)).toBe(201);
        await client.signIn(email, "a-long-password");
        return { client, email, id: ((await client.request("GET", "/api/me")).body.user as { id: string }).id };
      }),
    );

    // What moves: the event's logical shard in inventory and events (the same id), and one
    // buyer's in payments (keyed by buyer id) and users (keyed by email), each to its other shard.
    const inventory = shardSql("inventory");
    const payments = shardSql("payments");
    const users = shardSql("users");
    const events = shardSql("events");
    const eventLogical = logicalShardOfId(eventId);
    const payer = buyers[0];
    const moves = [
      { service: "inventory" as const, logical: eventLogical, sql: inventory },
      { service: "events" as const, logical: eventLogical, sql: events },
      { service: "payments" as const, logical: logicalShardOf(payer.id), sql: payments },
      { service: "users" as const, logical: logicalShardOf(payer.email.toLowerCase()), sql: users },
    ].map((m) => {
      const map = m.sql.map();
      const from = physicalShardOf(map, m.logical).name;
      const to = map.shards.find((s) => s.name !== from)!.name;
      return { ...m, from, to };
    });

    const tally = new Tally();
    const orders: Array<{ buyer: number; id: string }> = [];
    let movesDone = false;

    // Buyers: purchase one seat at a time (six each: 96 of the 125 seats, and one held each at most), then hold and release
    // until the moves are over, so writes to the moving logical shard never stop.
    async function buyerLoop(index: number): Promise<void> {
      const { client } = buyers[index];
      let bought = 0;
      const until = Date.now() + 120_000;
      while (Date.now() < until && !(movesDone && bought >= PURCHASES_EACH)) {
        const hold = await client.request("POST", `/api/events/${eventId}/holds`, { quantity: 1 });
        tally.note("hold", hold);
        if (hold.status !== 201) {
          if (hold.status === 503) await sleep(Number(hold.retryAfter ?? 1) * 100);
          else throw new Error(`hold answered ${hold.status} ${JSON.stringify(hold.body)}`);
          continue;
        }
        const holdId = (hold.body.hold as { id: string }).id;
        if (bought >= PURCHASES_EACH) {
          const released = await client.request("DELETE", `/api/holds/${holdId}`);
          tally.note("release", released);
          continue;
        }
        const key = randomUUID();
        for (;;) {
          const order = await client.request("POST", "/api/orders", { holdId, payment: CARD }, { "idempotency-key": key });
          tally.note("order", order);
          if (order.status === 201) {
            bought++;
            orders.push({ buyer: index, id: (order.body.order as { id: string }).id });
            break;
          }
          if (order.status !== 503) throw new Error(`order answered ${order.status} ${JSON.stringify(order.body)}`);
          await sleep(Number(order.retryAfter ?? 1) * 100);
        }
        await sleep(100);
      }
    }

    // Readers: the event page, its seat map and orders already made, all the time.
    async function readerLoop(): Promise<void> {
      while (!movesDone) {
        tally.note("event", await organizer.request("GET", `/api/events/${eventId}`));
        tally.note("seats", await organizer.request("GET", `/api/events/${eventId}/seats`));
        const known = orders[Math.floor(Math.random() * orders.length)];
        if (known) tally.note("order-read", await buyers[known.buyer].client.request("GET", `/api/orders/${known.id}`));
        tally.note("orders-list", await payer.client.request("GET", "/api/orders"));
        await sleep(20);
      }
    }

    const traffic = Promise.all([...buyers.map((_, i) => buyerLoop(i)), readerLoop(), readerLoop()]);
    let outputs: string[];
    const started = performance.now();
    let ordersAtMoveEnd: number | undefined;
    try {
      await waitFor(() => orders.length >= 10, { timeoutMs: 60_000, what: "purchases before the move" });
      outputs = await Promise.all(moves.map((m) => moveWithCli(m.service, m.logical, m.to)));
      ordersAtMoveEnd = orders.length;
    } finally {
      movesDone = true;
      // The traffic's own failure (if any) is reported below; here it must stop before the platform does.
      await traffic.catch(() => {});
    }
    const moveSeconds = (performance.now() - started) / 1000;
    await traffic;
    for (const [i, m] of moves.entries()) expect(outputs[i], `${m.service}: ${outputs[i]}`).toMatch(new RegExp(`moved logical shard ${m.logical} from ${m.from} to ${m.to}`));
    const fenced = outputs.map((o) => /writes fenced (\d+) ms/.exec(o)?.[1]);

    // Every row of each moved logical shard is on the target and none is left on the source.
    const rowsMoved: Record<string, number> = {};
    for (const m of moves) {
      let onTarget = 0;
      for (const table of await shardedTables(m.sql.on(m.to), [m.service === "inventory" || m.service === "payments" ? m.service : "public"])) {
        const count = async (shard: string) => Number((await m.sql.on(shard).query<{ n: bigint }>(`select count(*) as n from ${table} where logical_shard = $1`, [m.logical])).rows[0].n);
        expect(await count(m.from), `${m.service} ${table} rows of logical shard ${m.logical} left on ${m.from}`).toBe(0);
        onTarget += await count(m.to);
      }
      rowsMoved[m.service] = onTarget;
      expect(onTarget, `${m.service} rows on ${m.to}`).toBeGreaterThan(0);
    }
    const seatsOnTarget = await inventory.on(moves[0].to).query<{ n: bigint }>("select count(*) as n from inventory.seats where event_id = $1", [eventId]);
    expect(Number(seatsOnTarget.rows[0].n), "every seat of the event is on the target").toBe(125);

    // Nothing answered 404 on a resource that exists; every 503 carried Retry-After.
    expect(tally.notFound, lastLogs()).toEqual([]);
    expect(tally.unavailableWithoutRetryAfter).toEqual([]);
    const serverErrors = tally.count((k) => /\s5\d\d$/.test(k) && !k.endsWith(" 503"));
    expect(serverErrors, JSON.stringify([...tally.statuses])).toBe(0);

    // The moved buyer still signs in (users), the event page still answers (events).
    const again = new Client(platform.url);
    await again.signIn(payer.email, "a-long-password");
    expect((await again.request("GET", `/api/events/${eventId}`)).status).toBe(200);

    // Money: every captured payment is a confirmed order (or was refunded), across all shards.
    const captured = async () => {
      const rows: Array<{ id: string; status: string }> = [];
      for (const s of payments.map().shards) rows.push(...(await payments.on(s.name).query<{ id: string; status: string }>("select id, status from payments.payments")).rows);
      return rows;
    };
    const confirmedPayments = async () => {
      const ids = new Set<string>();
      for (const s of inventory.map().shards) for (const r of (await inventory.on(s.name).query<{ payment_id: string }>("select payment_id from inventory.orders where status = 'confirmed'")).rows) ids.add(r.payment_id);
      return ids;
    };
    await waitFor(
      async () => {
        const confirmed = await confirmedPayments();
        return (await captured()).every((p) => p.status === "refunded" || confirmed.has(p.id));
      },
      { timeoutMs: 30_000, intervalMs: 500, what: "every captured payment to be a confirmed order or refunded" },
    );
    const payRows = await captured();
    const confirmed = await confirmedPayments();
    expect(payRows.filter((p) => p.status === "captured" && !confirmed.has(p.id))).toEqual([]);

    // No seat in two orders; tickets are exactly the sold seats; buyers' orders are all there.
    const tickets = (await inventory.on(moves[0].to).query<{ seat_id: string }>("select seat_id from inventory.tickets where event_id = $1", [eventId])).rows.map((r) => r.seat_id);
    expect(new Set(tickets).size).toBe(tickets.length);
    const sold = (await inventory.on(moves[0].to).query<{ id: string }>("select id from inventory.seats where event_id = $1 and status = 'sold'", [eventId])).rows.map((r) => r.id);
    expect([...sold].sort()).toEqual([...tickets].sort());
    const orderRows = (await inventory.on(moves[0].to).query<{ id: string }>("select id from inventory.orders where event_id = $1 and status = 'confirmed'", [eventId])).rows.map((r) => r.id);
    expect(new Set(orderRows)).toEqual(new Set(orders.map((o) => o.id)));

    const unavailable = tally.count((k) => k.endsWith(" 503"));
    console.log(
      `[shard move] ${moves.map((m) => `${m.service} ${m.logical}: ${m.from}→${m.to}, ${rowsMoved[m.service]} rows, fenced ${fenced[moves.indexOf(m)]} ms`).join("; ")}; ` +
        `moves took ${moveSeconds.toFixed(1)} s (grace included); ${orders.length} orders (${ordersAtMoveEnd} by the end of the moves); ` +
        `requests: ${[...tally.statuses].map(([k, v]) => `${k}×${v}`).join(", ")}; 503s ${unavailable}`,
    );
    await Promise.all([inventory, payments, users, events].map((s) => s.close()));
  }, 240_000);
  it("when a third inventory shard is added and the store rebalanced while buyers purchase, each physical shard owns a third and purchases go on everywhere", async () => {
    const inventory = shardSql("inventory");
    const before = inventory.map();
    const third = new URL(before.shards[1].primary);
    third.pathname = third.pathname.replace(/_1$/, "_2");
    const database = third.pathname.slice(1);
    try {
      const added = await shardsCli("inventory", ["add", "inventory-2", third.toString()]);
      expect(added).toMatch(/inventory-2 joined, owning no logical shard yet/);

      const organizer = new Client(platform.url);
      await organizer.signIn(ORGANIZER.email, ORGANIZER.password);
      const buyer = new Client(platform.url);
      const email = `grower-${randomUUID().slice(0, 8)}@example.test`;
      expect((await buyer.request("POST", "/api/users", { email, password: "a-long-password", displayName: "Grower" })).status).toBe(201);
      await buyer.signIn(email, "a-long-password");
      const eventIds: string[] = [];
      for (let i = 0; i < 6; i++) {
        const created = await organizer.request("POST", "/api/events", {
          title: `Growth night ${i}`,
          venue: "Expansion Hall",
          startsAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
          sections: [{ name: "Floor", rows: 2, seatsPerRow: 10, priceCents: 1_500 }],
        });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        eventIds.push((created.body.event as { id: string }).id);
      }
      // Purchases run through the rebalance; none may fail for good.
      let done = false;
      const failures: string[] = [];
      let bought = 0;
      const traffic = (async () => {
        for (let round = 0; !done || round < eventIds.length; round++) {
          const eventId = eventIds[round % eventIds.length];
          const hold = await buyer.request("POST", `/api/events/${eventId}/holds`, { quantity: 1 });
          if (hold.status === 503) continue;
          if (hold.status !== 201) {
            if (hold.status === 409) break; // the buyer's limit on every event: enough
            failures.push(`hold ${hold.status} ${JSON.stringify(hold.body)}`);
            continue;
          }
          const key = randomUUID();
          for (;;) {
            const order = await buyer.request("POST", "/api/orders", { holdId: (hold.body.hold as { id: string }).id, payment: CARD }, { "idempotency-key": key });
            if (order.status === 201) bought++;
            else if (order.status === 503) continue;
            else failures.push(`order ${order.status} ${JSON.stringify(order.body)}`);
            break;
          }
          await sleep(200);
        }
      })();
      let output: string;
      try {
        output = await shardsCli("inventory", ["rebalance", "--batch", "256", "--pause-ms", "100"]);
      } finally {
        done = true;
        await traffic;
      }
      expect(output).toMatch(/rebalanced: 1365 logical shards/);
      expect(failures).toEqual([]);
      expect(bought).toBeGreaterThan(0);

      const after = inventory.map();
      const sizes = [...ownedLogicalShards(after).values()].map((l) => l.length);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(LOGICAL_SHARD_COUNT);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      // Every event's seats are on the shard the new map names, and nowhere else.
      const router = createShardRouter({ map: after, createClient: () => undefined, mapRefreshMs: 0 });
      try {
        for (const eventId of eventIds) {
          const owner = physicalShardOf(after, logicalShardOfId(eventId)).name;
          for (const shard of after.shards) {
            const { rows } = await router.sql.forShard(shard.name).query<{ n: bigint }>("select count(*) as n from inventory.seats where event_id = $1", [eventId]);
            expect(Number(rows[0].n), `seats of ${eventId} on ${shard.name} (owner ${owner})`).toBe(shard.name === owner ? 20 : 0);
          }
          // The services follow the new map: the seat map answers from wherever the event now lives.
          expect((await organizer.request("GET", `/api/events/${eventId}/seats`)).status).toBe(200);
        }
      } finally {
        await router.close();
      }
      console.log(`[shard rebalance] ${output.trim().split("\n").slice(-4).join(" | ")}; ${bought} purchases during it`);
    } finally {
      await inventory.close();
      // The platform drops the databases it made; this one the test made.
      const admin = new pg.Client({ connectionString: postgres.url });
      await admin.connect();
      await admin.query(`drop database if exists "${database}" with (force)`).catch(() => {});
      await admin.end();
    }
  }, 240_000);
});
