// A waiting room's state does not live for ever: it is forgotten ROOM_IDLE_TTL_SECONDS after its
// last use (never before the event opens, never before its last admission ends) and
// ROOM_SOLD_OUT_TTL_SECONDS after it sold out, however often buyers still ask. In memory the test's
// clock moves; on the real Redis the keys really expire (short settings, waited for, never slept).
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { inventoryAvailabilityChangedV1 } from "@boxoffice/contracts";
import { requireRedis, uniqueName, waitFor } from "@boxoffice/testkit";
import { createMemoryRoomStore } from "../src/store/memory-room-store.ts";
import { createRedisRoomStore } from "../src/store/redis-room-store.ts";
import type { RoomStore } from "../src/store/room-store.ts";
import { createFakeBackend, type FakeBackend } from "./fake-backend.ts";
import { createTestGateway, sessionCookie, type TestGateway } from "./helpers.ts";

const redis = await requireRedis();
const prefix = uniqueName("room_expiry");
const EVENT = "500";
const QUEUE = `/api/events/${EVENT}/queue`;

afterAll(async () => {
  if (!redis.available) return;
  const client = new Redis(redis.url);
  const keys = await client.keys(`${prefix}:*`);
  if (keys.length > 0) await client.del(...keys);
  await client.quit();
});

function hotEvent(backend: FakeBackend, salesStartAt: number): void {
  backend.events.set(EVENT, {
    id: EVENT, title: "Hot Show", venue: "Arena", startsAt: "2030-07-01T20:00:00.000Z", salesStartAt: new Date(salesStartAt).toISOString(),
    status: "on_sale", organizerId: "1", available: 1000, sections: [{ id: "501", name: "Floor", priceCents: 5000, capacity: 1000, available: 1000 }],
  });
}

/** A gateway on `store` with buyers, the organiser and the firehose at hand. */
async function roomFixture(store: RoomStore, salesStartAt: number, now?: () => number) {
  const backend = createFakeBackend();
  hotEvent(backend, salesStartAt);
  const t: TestGateway = await createTestGateway(
    { ADMISSION_KEYS: randomBytes(32).toString("hex"), ADMISSION_RATE_INITIAL: "1", ADMISSION_RATE_MAX: "1", QUEUE_EARLY_POLL_ALLOWANCE: "100000", QUEUE_JOINS_PER_ADDRESS_PER_MINUTE: "100000" },
    backend,
    { roomStore: store, now },
  );
  let count = 0;
  const signIn = async (email: string, password: string) => sessionCookie(await t.gateway.app.inject({ method: "POST", url: "/api/session", payload: { email, password } }));
  return {
    t,
    organiser: () => signIn("organizer@boxoffice.test", "organizer-password"),
    async buyer() {
      const email = `expiry-${++count}@room.test`;
      expect((await t.gateway.app.inject({ method: "POST", url: "/api/users", payload: { email, password: "long-enough", displayName: "B" } })).statusCode).toBe(201);
      return signIn(email, "long-enough");
    },
    join: (cookie: string) => t.gateway.app.inject({ method: "POST", url: QUEUE, headers: { cookie } }),
    poll: (cookie: string) => t.gateway.app.inject({ method: "GET", url: QUEUE, headers: { cookie } }),
    patch: (cookie: string, payload: object) => t.gateway.app.inject({ method: "PATCH", url: QUEUE, headers: { cookie }, payload }),
    soldOut: () => t.firehose.publish(inventoryAvailabilityChangedV1.stream, {
      type: inventoryAvailabilityChangedV1.type,
      version: inventoryAvailabilityChangedV1.version,
      key: EVENT,
      data: { eventId: EVENT, available: 0, sections: [{ id: "501", available: 0 }] },
    }),
  };
}

describe("waiting room expiry in memory (the embedded platform)", () => {
  const OPENS = Date.parse("2030-06-01T10:00:00.000Z");
  const IDLE = 60_000;
  const SOLD_OUT = 30_000;

  it("when a room goes unused for the idle time it is forgotten, but a pre-queue is kept until opening and an admission until it ends", async () => {
    let now = OPENS - 3 * IDLE;
    const store = createMemoryRoomStore({ expiry: { idleTtlMs: IDLE, soldOutTtlMs: SOLD_OUT } });
    const f = await roomFixture(store, OPENS, () => now);
    try {
      const early = await f.buyer();
      expect((await f.join(early)).json().queue).toMatchObject({ status: "waiting", position: null });
      // Three idle times before opening, nobody asks: the pre-queue place is still there after opening.
      now = OPENS + IDLE - 1;
      expect((await f.poll(early)).json().queue.status).toBe("admitted");
      // Admitted for ADMISSION_TTL_SECONDS (600 s, ten idle times): the room outlives the idle time.
      const until = Date.parse((await f.poll(early)).json().queue.admittedUntil);
      now = until - 1;
      expect((await f.poll(early)).json().queue.status).toBe("admitted");
      // Then nobody uses it for an idle time after the admission ended: forgotten.
      now = until + IDLE + 1;
      const gone = await f.poll(early);
      expect(gone.statusCode).toBe(404);
      expect(gone.json().error.code).toBe("NOT_IN_QUEUE");
      expect(await store.rooms()).toEqual([]);
    } finally {
      await f.t.close();
      await store.close();
    }
  });

  it("when a room sells out, it is forgotten the sold-out time later even while waiting buyers keep asking", async () => {
    let now = OPENS + 1000;
    const store = createMemoryRoomStore({ expiry: { idleTtlMs: IDLE, soldOutTtlMs: SOLD_OUT } });
    const f = await roomFixture(store, OPENS, () => now);
    try {
      await f.patch(await f.organiser(), { paused: true });
      const cookie = await f.buyer();
      expect((await f.join(cookie)).json().queue).toMatchObject({ status: "waiting", position: 1 });
      const soldOutAt = now;
      await f.soldOut();
      await waitFor(async () => (await f.poll(cookie)).json().queue?.status === "sold_out", { what: "the waiting buyer to hear sold_out" });
      for (now = soldOutAt + 5000; now < soldOutAt + SOLD_OUT; now += 5000) expect((await f.poll(cookie)).json().queue.status).toBe("sold_out");
      now = soldOutAt + SOLD_OUT;
      expect((await f.poll(cookie)).json().error.code).toBe("NOT_IN_QUEUE");
    } finally {
      await f.t.close();
      await store.close();
    }
  });
});

describe.skipIf(!redis.available)(`waiting room expiry on Redis (${redis.reason || redis.url})`, () => {
  const client = redis.available ? new Redis(redis.url) : undefined;
  afterAll(async () => {
    await client?.quit();
  });

  /** Every key of the room with its absolute expiry (ms), from Redis itself. */
  async function roomKeys(roomPrefix: string): Promise<Array<{ key: string; expiresAt: number }>> {
    const keys = await client!.keys(`${roomPrefix}room:{${EVENT}}:*`);
    return Promise.all(keys.map(async (key) => ({ key, expiresAt: Number(await client!.call("PEXPIRETIME", key)) })));
  }

  it("when a buyer joins a pre-queue, every key of the room expires exactly the idle time after opening", async () => {
    const roomPrefix = `${prefix}:${uniqueName("pre")}:`;
    const opens = Date.now() + 3_600_000;
    const store = createRedisRoomStore({ url: redis.url, prefix: roomPrefix, expiry: { idleTtlMs: 120_000, soldOutTtlMs: 60_000 } });
    const f = await roomFixture(store, opens);
    try {
      expect((await f.join(await f.buyer())).statusCode).toBe(200);
      const keys = await roomKeys(roomPrefix);
      expect(keys.map((k) => k.key.split(":").at(-1)).sort()).toEqual(["line", "pollnext"]);
      for (const key of keys) expect(key, "a key that never expires (-1) or expires at another time").toEqual({ key: key.key, expiresAt: opens + 120_000 });
    } finally {
      await f.t.close();
      await store.close();
    }
  });

  it("when an open room goes unused, its keys are gone from Redis after the idle time, and the buyer's place with them", async () => {
    const roomPrefix = `${prefix}:${uniqueName("idle")}:`;
    const store = createRedisRoomStore({ url: redis.url, prefix: roomPrefix, expiry: { idleTtlMs: 1500, soldOutTtlMs: 60_000 } });
    const f = await roomFixture(store, Date.now() - 1000);
    try {
      // Paused, so the buyer waits (an admission would keep the room for ADMISSION_TTL_SECONDS).
      await f.patch(await f.organiser(), { paused: true });
      const cookie = await f.buyer();
      expect((await f.join(cookie)).json().queue).toMatchObject({ status: "waiting", position: 1 });
      const keys = await roomKeys(roomPrefix);
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) expect(key.expiresAt, key.key).toBeGreaterThan(0);
      await waitFor(async () => (await roomKeys(roomPrefix)).length === 0, { timeoutMs: 15_000, intervalMs: 250, what: "the idle room's keys to expire" });
      expect((await f.poll(cookie)).json().error.code).toBe("NOT_IN_QUEUE");
    } finally {
      await f.t.close();
      await store.close();
    }
  });

  it("when a room sells out, its keys are gone after the sold-out time even though waiting buyers keep asking", async () => {
    const roomPrefix = `${prefix}:${uniqueName("sold")}:`;
    const store = createRedisRoomStore({ url: redis.url, prefix: roomPrefix, expiry: { idleTtlMs: 3_600_000, soldOutTtlMs: 1500 } });
    const f = await roomFixture(store, Date.now() - 1000);
    try {
      await f.patch(await f.organiser(), { paused: true });
      const cookie = await f.buyer();
      await f.join(cookie);
      await f.soldOut();
      await waitFor(async () => (await f.poll(cookie)).json().queue?.status === "sold_out", { what: "the waiting buyer to hear sold_out" });
      for (const key of await roomKeys(roomPrefix)) expect(key.expiresAt, `${key.key} expires with the sale, not an hour after the last poll`).toBeLessThanOrEqual(Date.now() + 1500);
      // The buyer keeps asking; the room goes anyway.
      const last = await waitFor(async () => {
        const reply = await f.poll(cookie);
        return reply.statusCode === 404 ? reply : undefined;
      }, { timeoutMs: 15_000, intervalMs: 200, what: "the sold-out room to be forgotten while its buyer polls" });
      expect(last.json().error.code).toBe("NOT_IN_QUEUE");
      expect(await roomKeys(roomPrefix)).toEqual([]);
    } finally {
      await f.t.close();
      await store.close();
    }
  });
});
