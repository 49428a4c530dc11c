// The waiting room of shared/reference/http-api.md (v1.1), through the HTTP API, on both stores:
// in memory (the embedded platform) and on the real Redis (every gateway of a distributed one).
// The room's clock is the test's: time moves when the test says, so nothing sleeps.
import { randomBytes } from "node:crypto";
import { connect, type AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { inventoryAvailabilityChangedV1 } from "@boxoffice/contracts";
import { createAdmissionKeys } from "@boxoffice/identity";
import { requireRedis, uniqueName, waitFor } from "@boxoffice/testkit";
import { createMemoryRoomStore } from "../src/store/memory-room-store.ts";
import { createRedisRoomStore } from "../src/store/redis-room-store.ts";
import type { RoomStore } from "../src/store/room-store.ts";
import { createFakeBackend, type FakeBackend } from "./fake-backend.ts";
import { createTestGateway, sessionCookie, type TestGateway } from "./helpers.ts";

const redis = await requireRedis();
const prefix = uniqueName("room");
const OPENS = Date.parse("2030-06-01T10:00:00.000Z");
const EVENT = "500";
const QUEUE = `/api/events/${EVENT}/queue`;
const admissionKey = randomBytes(32).toString("hex");

interface Target {
  name: string;
  available: boolean;
  store(): RoomStore;
}

const targets: Target[] = [
  { name: "in memory", available: true, store: () => createMemoryRoomStore() },
  { name: `on Redis (${redis.reason || redis.url})`, available: redis.available, store: () => createRedisRoomStore({ url: redis.url, prefix: `${prefix}:${uniqueName("t")}:` }) },
];

afterAll(async () => {
  if (!redis.available) return;
  // Only this file's keys.
  const client = new Redis(redis.url);
  const keys = await client.keys(`${prefix}:*`);
  if (keys.length > 0) await client.del(...keys);
  await client.quit();
});

/** Spearman's rank correlation of two orderings of the same buyers. */
function rankCorrelation(a: number[], b: number[]): number {
  const n = a.length;
  const d2 = a.reduce((sum, x, i) => sum + (x - b[i]) ** 2, 0);
  return 1 - (6 * d2) / (n * (n * n - 1));
}

describe.each(targets)("the waiting room $name", (target) => {
  let t: TestGateway;
  let backend: FakeBackend;
  let store: RoomStore;
  let now: number;
  let buyerCount = 0;

  /** The gateway's admission gate (createAdmissionGate: closed while its event loop lags). */
  let gateOpen = true;

  async function start(env: Record<string, string> = {}): Promise<void> {
    t = await createTestGateway(
      { ADMISSION_KEYS: admissionKey, ADMISSION_RATE_INITIAL: "1", ADMISSION_RATE_MIN: "1", ADMISSION_RATE_MAX: "1", QUEUE_EARLY_POLL_ALLOWANCE: "0", QUEUE_JOINS_PER_ADDRESS_PER_MINUTE: "100000", QUEUE_POLL_RATE_FLOOR: "0", ...env },
      backend,
      { roomStore: store, now: () => now, admitting: () => gateOpen },
    );
  }

  beforeEach(async (context) => {
    if (!target.available) context.skip();
    now = OPENS - 60_000;
    gateOpen = true;
    store = target.store();
    backend = createFakeBackend();
    backend.events.set(EVENT, {
      id: EVENT,
      title: "Hot Show",
      venue: "Arena",
      startsAt: "2030-07-01T20:00:00.000Z",
      salesStartAt: new Date(OPENS).toISOString(),
      status: "on_sale",
      organizerId: "1",
      available: 1000,
      sections: [{ id: "501", name: "Floor", priceCents: 5000, capacity: 1000, available: 1000 }],
    });
    await start();
  });

  afterEach(async () => {
    await t?.close();
    await store?.close();
  });

  async function signIn(email: string, password: string): Promise<string> {
    const response = await t.gateway.app.inject({ method: "POST", url: "/api/session", payload: { email, password } });
    expect(response.statusCode).toBe(200);
    return sessionCookie(response);
  }

  async function buyer(): Promise<string> {
    const email = `buyer-${++buyerCount}@room.test`;
    const created = await t.gateway.app.inject({ method: "POST", url: "/api/users", payload: { email, password: "long-enough", displayName: "Buyer" } });
    expect(created.statusCode).toBe(201);
    return signIn(email, "long-enough");
  }

  const organiser = () => signIn("organizer@boxoffice.test", "organizer-password");
  const join = (cookie: string) => t.gateway.app.inject({ method: "POST", url: QUEUE, headers: { cookie } });
  const poll = (cookie: string) => t.gateway.app.inject({ method: "GET", url: QUEUE, headers: { cookie } });
  const hold = (cookie: string) => t.gateway.app.inject({ method: "POST", url: `/api/events/${EVENT}/holds`, headers: { cookie }, payload: { quantity: 1 } });
  const patch = (cookie: string, payload: unknown) => t.gateway.app.inject({ method: "PATCH", url: QUEUE, headers: { cookie }, payload: payload as object });
  const stats = async (cookie: string) => (await t.gateway.app.inject({ method: "GET", url: `${QUEUE}/stats`, headers: { cookie } })).json().stats;

  it("while the gateway's admission gate is closed (its event loop lags), a join or poll at the front admits nobody; a hold of a quiet event still does, and the front is admitted once it opens", async () => {
    const first = await buyer();
    const second = await buyer();
    now = OPENS + 1000;
    gateOpen = false;
    const joined = await join(first);
    expect(joined.statusCode, joined.body).toBe(200);
    expect(joined.json().queue).toMatchObject({ status: "waiting", position: 1 });
    expect((await join(second)).json().queue).toMatchObject({ status: "waiting", position: 2 });
    now += 3000;
    expect((await poll(first)).json().queue, "the front's poll, gate closed").toMatchObject({ status: "waiting", position: 1 });
    gateOpen = true;
    now += 3000;
    expect((await poll(first)).json().queue, "the front's poll, gate open").toMatchObject({ status: "admitted" });
    expect((await hold(first)).statusCode).toBe(201);
  });

  it("a quiet event's buyer who holds without joining is admitted on the spot even while the gate is closed (holds are not gated)", async () => {
    now = OPENS + 1000;
    gateOpen = false;
    const response = await hold(await buyer());
    expect(response.statusCode, response.body).toBe(201);
  });

  it("when a buyer holds before salesStartAt, the answer is 409 SALES_NOT_STARTED with the opening time", async () => {
    const response = await hold(await buyer());
    expect(response.statusCode).toBe(409);
    expect(response.json().error).toMatchObject({ code: "SALES_NOT_STARTED", details: { salesStartAt: new Date(OPENS).toISOString() } });
  });

  it("when buyers join before opening, they are in the pre-queue with no position, and joining again returns the same place", async () => {
    const cookie = await buyer();
    const first = await join(cookie);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json().queue).toMatchObject({ status: "waiting", position: null, ahead: null, salesStartAt: new Date(OPENS).toISOString(), admittedUntil: null });
    expect(first.json().queue.estimatedWaitSeconds).toBe(60);
    const organizerCookie = await organiser();
    await patch(organizerCookie, { paused: true });
    now = OPENS + 1000;
    const before = (await poll(cookie)).json().queue;
    const again = await join(cookie);
    expect(again.json().queue.position).toBe(before.position);
    expect((await stats(organizerCookie)).waiting).toBe(1);
  });

  it("once the event is known, room requests answer while the catalogue is asked again (stale while revalidate): a waiting buyer never waits on another service", async () => {
    const cookie = await buyer();
    expect((await join(cookie)).statusCode).toBe(200);
    const lookups = backend.calls.getEventSchedule;
    now += 5000; // past the 1 s the event's opening time is reused without asking
    const release = backend.holdGetEvent();
    try {
      // Asking again where one stands (a poll would be too soon here; both read the event the same way).
      const answered = await join(cookie);
      expect(answered.statusCode, answered.body).toBe(200);
      expect(answered.json().queue.status).toBe("waiting");
      expect((await join(await buyer())).statusCode).toBe(200);
      expect(backend.calls.getEventSchedule, "one lookup in flight, shared").toBe(lookups + 1);
    } finally {
      release();
    }
    // Too stale (30 s): the next request waits for a fresh answer rather than trust an old opening time.
    now += 31_000;
    const releaseAgain = backend.holdGetEvent();
    let settled = false;
    const late = join(cookie).then((response) => ((settled = true), response));
    await waitFor(() => backend.calls.getEventSchedule === lookups + 2, { what: "the fresh lookup" });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled).toBe(false);
    releaseAgain();
    expect((await late).statusCode).toBe(200);
  });

  it("when 150 buyers join the pre-queue one after another, at opening their order is shuffled: join order and admission order are uncorrelated", async () => {
    await patch(await organiser(), { paused: true });
    const cookies: string[] = [];
    for (let i = 0; i < 150; i++) {
      const cookie = await buyer();
      expect((await join(cookie)).statusCode).toBe(200);
      cookies.push(cookie);
    }
    now = OPENS + 1000;
    const positions: number[] = [];
    for (const cookie of cookies) positions.push((await poll(cookie)).json().queue.position);
    // One place each, 1..150: no two buyers share a place.
    expect([...positions].sort((a, b) => a - b)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    const joinOrder = cookies.map((_, i) => i + 1);
    // |rho| of a random permutation of 150 has a standard deviation of 0.08; 0.35 is over four of them.
    expect(Math.abs(rankCorrelation(joinOrder, positions))).toBeLessThan(0.35);
  });

  it("when buyers join after opening, they line up in arrival order behind the pre-queue", async () => {
    const organizerCookie = await organiser();
    await patch(organizerCookie, { paused: true });
    const early = await buyer();
    await join(early);
    now = OPENS + 1000;
    const late: string[] = [];
    for (let i = 0; i < 5; i++) {
      const cookie = await buyer();
      late.push(cookie);
      expect((await join(cookie)).json().queue.position).toBe(i + 2);
    }
    now += 30_000;
    expect((await poll(early)).json().queue.position).toBe(1);
    for (const [i, cookie] of late.entries()) expect((await poll(cookie)).json().queue.position).toBe(i + 2);
  });

  it("when others are waiting, a hold from a buyer who is not admitted is NOT_ADMITTED with the queue path; the admitted buyer's hold carries a signed admission", async () => {
    const organizerCookie = await organiser();
    await patch(organizerCookie, { paused: true });
    const first = await buyer();
    const second = await buyer();
    await join(first);
    await join(second);
    now = OPENS + 1000;
    const outsider = await buyer();
    const refused = await hold(outsider);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error).toMatchObject({ code: "NOT_ADMITTED", details: { queuePath: QUEUE } });
    // Resume: one admission per second at this rate, so at this instant only the buyer at the front.
    await patch(organizerCookie, { paused: false });
    const views = [(await poll(first)).json().queue, (await poll(second)).json().queue];
    const admitted = views.filter((q) => q.status === "admitted");
    expect(admitted).toHaveLength(1);
    expect(views.find((q) => q.status === "waiting")).toMatchObject({ position: 1, ahead: 0 });
    const admittedCookie = views[0].status === "admitted" ? first : second;
    const waitingCookie = admittedCookie === first ? second : first;
    expect((await hold(waitingCookie)).json().error.code).toBe("NOT_ADMITTED");
    expect((await hold(outsider)).json().error.code).toBe("NOT_ADMITTED");
    const held = await hold(admittedCookie);
    expect(held.statusCode).toBe(201);
    const me = (await t.gateway.app.inject({ method: "GET", url: "/api/me", headers: { cookie: admittedCookie } })).json().user;
    const verdict = createAdmissionKeys([admissionKey]).verify(backend.holdAdmissions.at(-1), { userId: me.id, eventId: EVENT, now });
    expect(verdict.ok).toBe(true);
  });

  it("a room resumed after a long pause admits the front at once and the rest at the rate, not the tokens of the pause", async () => {
    await t.close();
    await start({ ADMISSION_RATE_INITIAL: "10", ADMISSION_RATE_MIN: "10", ADMISSION_RATE_MAX: "10" });
    const organizerCookie = await organiser();
    now = OPENS + 1000;
    await patch(organizerCookie, { paused: true });
    const waiting: string[] = [];
    for (let i = 0; i < 6; i++) {
      const cookie = await buyer();
      await join(cookie);
      waiting.push(cookie);
    }
    // Thirty seconds paused, nobody asking: at 10 a second, a bucket kept filling would hold ten.
    now += 30_000;
    await patch(organizerCookie, { paused: false });
    const asked = await Promise.all(waiting.map(async (cookie) => (await poll(cookie)).json().queue.status));
    expect(asked.filter((status) => status === "admitted")).toHaveLength(1);
    // 200 ms later the rate has made two more admissions: two of the five still waiting get their hold.
    now += 200;
    const stillWaiting = waiting.filter((_, i) => asked[i] !== "admitted");
    const holds = await Promise.all(stillWaiting.map(async (cookie) => (await hold(cookie)).statusCode));
    expect(holds.filter((status) => status === 201)).toHaveLength(2);
  });

  it("when buyers ahead are admitted and others join behind, a waiting buyer's position never rises", async () => {
    // Everyone asks when told to (pollAfterSeconds), as the queue page does; one admission a second.
    const asking = new Map<string, number>();
    for (let i = 0; i < 8; i++) {
      const cookie = await buyer();
      asking.set(cookie, now + (await join(cookie)).json().queue.pollAfterSeconds * 1000);
    }
    now = OPENS;
    for (const cookie of asking.keys()) asking.set(cookie, now + (await poll(cookie)).json().queue.pollAfterSeconds * 1000);
    // The watched buyer arrives after opening, behind the whole pre-queue.
    const watched = await buyer();
    const joined = (await join(watched)).json().queue;
    expect(joined.status).toBe("waiting");
    const seen: number[] = [joined.position];
    let watchedNext = now + joined.pollAfterSeconds * 1000;
    for (let second = 0; second < 40; second++) {
      now += 1000;
      await join(await buyer()); // someone new arrives behind
      for (const [cookie, at] of asking) {
        if (at > now) continue;
        const queue = (await poll(cookie)).json().queue;
        if (queue.status === "waiting") asking.set(cookie, now + queue.pollAfterSeconds * 1000);
        else asking.delete(cookie);
      }
      if (watchedNext > now) continue;
      const queue = (await poll(watched)).json().queue;
      if (queue.status !== "waiting") break;
      seen.push(queue.position);
      watchedNext = now + queue.pollAfterSeconds * 1000;
    }
    expect(seen.length).toBeGreaterThan(1);
    for (let i = 1; i < seen.length; i++) expect(seen[i], `positions seen: ${seen.join(", ")}`).toBeLessThanOrEqual(seen[i - 1]);
    expect(seen.at(-1)).toBeLessThan(seen[0]);
  });

  it("when nobody asks, nobody is admitted in their absence: admissions go to buyers as they ask, at the room's rate", async () => {
    const organizerCookie = await organiser();
    await patch(organizerCookie, { paused: true });
    now = OPENS + 1000;
    const cookies: string[] = [];
    for (let i = 0; i < 5; i++) {
      const cookie = await buyer();
      await join(cookie);
      cookies.push(cookie);
    }
    await patch(organizerCookie, { paused: false });
    now += 10_000;
    // Ten seconds at one a second, and nobody asked: nobody was admitted unknowing (they would learn
    // of it only at their next poll, and arrive at checkout together).
    expect(await stats(organizerCookie)).toMatchObject({ waiting: 5, admitted: 0 });
    const views = [];
    for (const cookie of cookies) views.push((await poll(cookie)).json().queue);
    // The rate's one admission (a second's worth) went to the first who asked; the rest wait, in order.
    expect(views.map((q) => q.status)).toEqual(["admitted", "waiting", "waiting", "waiting", "waiting"]);
    expect(views.slice(1).map((q) => q.position)).toEqual([1, 2, 3, 4]);
  });

  it("when the buyer at the front is away, those behind who ask are admitted meanwhile; the away buyer keeps the front and goes first when they ask", async () => {
    const organizerCookie = await organiser();
    await patch(organizerCookie, { paused: true });
    const away = await buyer();
    await join(away); // in the pre-queue, told to ask again 15 s later, and gone
    now = OPENS + 1000;
    const [second, third] = [await buyer(), await buyer()];
    expect((await join(second)).json().queue.position).toBe(2);
    expect((await join(third)).json().queue.position).toBe(3);
    await patch(organizerCookie, { paused: false });
    now += 1000;
    expect((await poll(second)).json().queue.status).toBe("admitted");
    expect((await poll(third)).json().queue).toMatchObject({ status: "waiting", position: 2 });
    now += 1000;
    // The away buyer comes back: still at the front, admitted before the third, who asks next.
    expect((await poll(away)).json().queue.status).toBe("admitted");
    expect((await poll(third)).json().queue).toMatchObject({ status: "waiting", position: 1 });
    expect((await hold(third)).json().error.code).toBe("NOT_ADMITTED");
  });

  it("when many buyers at the front stepped aside (called) while nobody is admitted, each is told to ask by their place among them, not every 2 s", async () => {
    // The 40,000-buyer bench: 13,000 called buyers told to ask every 2 s while the gateway's gate was
    // closed kept its event loop lagging, so the gate stayed closed (6,000 requests a second, timeouts).
    const cookies = [];
    for (let i = 0; i < 30; i++) cookies.push(await buyer());
    for (const cookie of cookies) await join(cookie); // the pre-queue, told to ask again 15 s later
    now = OPENS + 40_000; // all of them late for it: the first ask calls them all
    gateOpen = false;
    const views = [];
    for (const cookie of cookies) views.push((await poll(cookie)).json().queue);
    expect(views.map((q) => q.status)).toEqual(cookies.map(() => "waiting"));
    const byPlace = views.sort((a, b) => a.position - b.position);
    expect(byPlace.map((q) => q.position)).toEqual(cookies.map((_, i) => i + 1));
    // At 1 admission a second: half of the expected wait (0.75-1.25 of it), at least 2 s.
    for (const q of byPlace) expect(q.pollAfterSeconds, `position ${q.position}`).toBeGreaterThanOrEqual(Math.max(2, Math.floor(((q.position - 1) / 2) * 0.75)));
    expect(byPlace[0].pollAfterSeconds).toBe(2);
    expect(byPlace.at(-1).pollAfterSeconds).toBeGreaterThanOrEqual(5);
  });

  it("waiting buyers are told when to ask as if the room admitted at least QUEUE_POLL_RATE_FLOOR a second; their estimated wait stays the real one", async () => {
    // The 40,000-buyer on-sale: buyers told by a rate of 12-50 a second came back 90-120 s later,
    // while the room, by then at 200 a second, had nobody near the front to admit.
    const asked = async () => {
      const cookies = [];
      for (let i = 0; i < 41; i++) cookies.push(await buyer());
      const views = [];
      for (const cookie of cookies) views.push((await join(cookie)).json().queue);
      // The first is admitted on the spot (nobody waited yet); the other 40 wait.
      return views.filter((q) => q.status === "waiting").sort((a, b) => a.position - b.position);
    };
    now = OPENS + 1_000;
    const byRate = await asked(); // the room's rate: 1 a second
    await t.close();
    await store.close();
    store = target.store();
    await start({ QUEUE_POLL_RATE_FLOOR: "10" });
    const byFloor = await asked();
    const last = (views: typeof byRate) => views.at(-1);
    // Position 40 (39 ahead): half of 39 s at 1 a second (× 0.75-1.25) against half of 3.9 s at 10.
    expect(last(byRate).position).toBe(40);
    expect(last(byRate).pollAfterSeconds).toBeGreaterThanOrEqual(14);
    expect(last(byFloor).position).toBe(40);
    expect(last(byFloor).pollAfterSeconds).toBeLessThanOrEqual(3);
    for (const q of byFloor) expect(q.pollAfterSeconds, `position ${q.position}`).toBeLessThanOrEqual(Math.max(2, Math.ceil(((q.position - 1) / 10 / 2) * 1.25)));
    // What the buyer is told to expect is the room's real pace, not the floor.
    expect(last(byFloor).estimatedWaitSeconds).toBe(last(byRate).estimatedWaitSeconds);
    expect(last(byFloor).estimatedWaitSeconds).toBeGreaterThanOrEqual(39);
  });

  it("when buyers behind one who asks step aside (called), every waiting buyer still has a place of their own, in join order", async () => {
    // A position counted every called buyer as ahead: the asking front buyer's rose and matched a called one's.
    now = OPENS + 1000;
    gateOpen = false; // nobody admitted or let go: every place stays what it was at joining
    const cookies = [];
    for (let i = 0; i < 12; i++) cookies.push(await buyer());
    const due = new Map<string, number>();
    for (const cookie of cookies) due.set(cookie, now + (await join(cookie)).json().queue.pollAfterSeconds * 1000);
    const seen = new Map<string, number[]>(cookies.map((cookie) => [cookie, []]));
    // Everyone asks when told; those far behind were told to come back later, and step aside meanwhile.
    for (let second = 0; second < 20; second++) {
      now += 1000;
      for (const cookie of cookies) {
        if (due.get(cookie)! > now) continue;
        const queue = (await poll(cookie)).json().queue;
        seen.get(cookie)!.push(queue.position);
        due.set(cookie, now + queue.pollAfterSeconds * 1000);
      }
    }
    for (const [i, cookie] of cookies.entries()) {
      expect(seen.get(cookie)!.length, `buyer ${i + 1} asked`).toBeGreaterThan(0);
      for (const position of seen.get(cookie)!) expect(position, `buyer ${i + 1}: ${seen.get(cookie)!.join(", ")}`).toBe(i + 1);
    }
  });

  it("when a buyer stepped aside at the front never comes back, they are let go a minute later (expired) and those behind move up", async () => {
    const organizerCookie = await organiser();
    await patch(organizerCookie, { paused: true });
    const gone = await buyer();
    await join(gone);
    now = OPENS + 1000;
    const [second, third] = [await buyer(), await buyer()];
    await join(second);
    await join(third);
    await patch(organizerCookie, { paused: false, maxAdmitted: 1 });
    now += 1000;
    expect((await poll(second)).json().queue.status).toBe("admitted");
    expect((await poll(third)).json().queue).toMatchObject({ status: "waiting", position: 2 });
    now += 61_000;
    expect((await poll(third)).json().queue).toMatchObject({ status: "waiting", position: 1 });
    expect((await poll(gone)).json().queue).toMatchObject({ status: "expired", position: null });
    expect((await join(gone)).json().queue).toMatchObject({ status: "waiting", position: 2 });
  });

  it("when nothing is left to hold, every waiting buyer is told sold_out and nobody new can join", async () => {
    await patch(await organiser(), { paused: true });
    const cookies = [await buyer(), await buyer(), await buyer()];
    for (const cookie of cookies) await join(cookie);
    now = OPENS + 1000;
    await t.firehose.publish(inventoryAvailabilityChangedV1.stream, {
      type: inventoryAvailabilityChangedV1.type,
      version: inventoryAvailabilityChangedV1.version,
      key: EVENT,
      data: { eventId: EVENT, available: 0, sections: [{ id: "501", available: 0 }] },
    });
    await waitFor(async () => (await poll(cookies[0])).json().queue?.status === "sold_out", { what: "the first waiting buyer to hear sold_out" });
    for (const cookie of cookies.slice(1)) expect((await poll(cookie)).json().queue).toMatchObject({ status: "sold_out", position: null });
    const late = await join(await buyer());
    expect(late.statusCode).toBe(409);
    expect(late.json().error.code).toBe("SOLD_OUT");
  });

  it("when an admission runs out unused, the buyer is told expired, cannot hold while others wait, and joining again lines up anew", async () => {
    const organizerCookie = await organiser();
    const cookie = await buyer();
    await join(cookie);
    now = OPENS;
    const admitted = (await poll(cookie)).json().queue;
    expect(admitted.status).toBe("admitted");
    const until = Date.parse(admitted.admittedUntil);
    expect(until).toBe(now + 600_000);
    // Others arrive and wait while the room is paused.
    await patch(organizerCookie, { paused: true });
    const other = await buyer();
    await join(other);
    now = until + 1;
    expect((await poll(cookie)).json().queue).toMatchObject({ status: "expired", admittedUntil: null });
    expect((await hold(cookie)).json().error.code).toBe("NOT_ADMITTED");
    const again = (await join(cookie)).json().queue;
    expect(again).toMatchObject({ status: "waiting", position: 2 });
  });

  it("when nobody waits, a hold without joining admits the buyer on the spot (a quiet event needs no extra call)", async () => {
    now = OPENS + 5000;
    const response = await hold(await buyer());
    expect(response.statusCode).toBe(201);
    expect(backend.holdAdmissions.at(-1)).toMatch(/^a1\./);
  });

  it("when a buyer polls sooner than pollAfterSeconds, the answer is 429 RATE_LIMITED with Retry-After", async () => {
    const cookie = await buyer();
    const joined = (await join(cookie)).json().queue;
    const early = await poll(cookie);
    expect(early.statusCode).toBe(429);
    expect(early.json().error.code).toBe("RATE_LIMITED");
    expect(Number(early.headers["retry-after"])).toBeGreaterThanOrEqual(joined.pollAfterSeconds - 1);
    now += joined.pollAfterSeconds * 1000;
    expect((await poll(cookie)).statusCode).toBe(200);
  });

  it("when a buyer asks about a room they never joined, the answer is 404 NOT_IN_QUEUE; signed out, 401", async () => {
    const response = await poll(await buyer());
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe("NOT_IN_QUEUE");
    expect((await t.gateway.app.inject({ method: "POST", url: QUEUE })).statusCode).toBe(401);
    expect((await t.gateway.app.inject({ method: "POST", url: "/api/events/999/queue", headers: { cookie: await buyer() } })).statusCode).toBe(404);
  });

  it("when a waiting buyer leaves (DELETE, an extension), everyone behind moves up; an admitted buyer who leaves frees the admission for the next; leaving without a place is 404 NOT_IN_QUEUE", async () => {
    const leave = (cookie: string) => t.gateway.app.inject({ method: "DELETE", url: QUEUE, headers: { cookie } });
    const organizerCookie = await organiser();
    now = OPENS + 1000;
    await patch(organizerCookie, { paused: true });
    const [first, second, third] = [await buyer(), await buyer(), await buyer()];
    for (const [i, cookie] of [first, second, third].entries()) expect((await join(cookie)).json().queue.position).toBe(i + 1);
    const left = await leave(second);
    expect(left.statusCode, left.body).toBe(204);
    expect(left.body).toBe("");
    now += 30_000;
    expect((await poll(third)).json().queue).toMatchObject({ status: "waiting", position: 2 });
    expect((await poll(second)).json().error.code).toBe("NOT_IN_QUEUE");
    const again = await leave(second);
    expect(again.statusCode).toBe(404);
    expect(again.json().error).toMatchObject({ code: "NOT_IN_QUEUE", details: { queuePath: QUEUE } });
    // One admission at a time: the first is admitted, leaves, and the third takes the admission.
    await patch(organizerCookie, { paused: false, maxAdmitted: 1 });
    now += 30_000;
    expect((await poll(first)).json().queue.status).toBe("admitted");
    expect((await poll(third)).json().queue).toMatchObject({ status: "waiting", position: 1 });
    expect((await leave(first)).statusCode).toBe(204);
    now += 30_000;
    expect((await poll(third)).json().queue.status).toBe("admitted");
    expect(await stats(organizerCookie)).toMatchObject({ waiting: 0, admitted: 1 });
    // Having left, the first buyer holds like anyone without a place: the one admission is taken.
    expect((await hold(first)).json().error.code).toBe("NOT_ADMITTED");
    expect((await t.gateway.app.inject({ method: "DELETE", url: QUEUE })).statusCode).toBe(401);
  });

  it("when the organiser caps the room, no more than the cap are admitted at once; buyers cannot see or change the controls", async () => {
    const organizerCookie = await organiser();
    const capped = await patch(organizerCookie, { maxAdmitted: 1 });
    expect(capped.statusCode).toBe(200);
    expect(capped.json().stats).toMatchObject({ maxAdmitted: 1, paused: false });
    const cookies = [await buyer(), await buyer(), await buyer()];
    for (const cookie of cookies) await join(cookie);
    now = OPENS + 60_000;
    const statuses = [];
    for (const cookie of cookies) statuses.push((await poll(cookie)).json().queue.status);
    expect(statuses.filter((s) => s === "admitted")).toHaveLength(1);
    expect(await stats(organizerCookie)).toMatchObject({ waiting: 2, admitted: 1, admittedPerMinute: 1, maxAdmitted: 1 });
    const someBuyer = await buyer();
    expect((await t.gateway.app.inject({ method: "GET", url: `${QUEUE}/stats`, headers: { cookie: someBuyer } })).statusCode).toBe(403);
    expect((await patch(someBuyer, { paused: true })).statusCode).toBe(403);
    const bad = await patch(organizerCookie, { maxAdmitted: -1 });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe("VALIDATION_FAILED");
    expect((await patch(organizerCookie, { paused: "yes" })).statusCode).toBe(400);
  });
});

describe.skipIf(!redis.available)("the waiting room when a gateway is killed (Redis)", () => {
  it("when the gateway serving the waiting buyers stops and another starts, every place is still there", async () => {
    const backend = createFakeBackend();
    backend.events.set(EVENT, {
      id: EVENT, title: "Hot Show", venue: "Arena", startsAt: "2030-07-01T20:00:00.000Z", salesStartAt: new Date(OPENS).toISOString(),
      status: "on_sale", organizerId: "1", available: 1000, sections: [{ id: "501", name: "Floor", priceCents: 5000, capacity: 1000, available: 1000 }],
    });
    const roomPrefix = `${prefix}:${uniqueName("restart")}:`;
    let now = OPENS - 60_000;
    const env = { SESSION_KEYS: randomBytes(32).toString("hex"), ADMISSION_KEYS: admissionKey, ADMISSION_RATE_INITIAL: "1", ADMISSION_RATE_MAX: "1" };
    const firstStore = createRedisRoomStore({ url: redis.url, prefix: roomPrefix });
    const first = await createTestGateway(env, backend, { roomStore: firstStore, now: () => now });
    const organizer = sessionCookie(await first.gateway.app.inject({ method: "POST", url: "/api/session", payload: { email: "organizer@boxoffice.test", password: "organizer-password" } }));
    await first.gateway.app.inject({ method: "PATCH", url: QUEUE, headers: { cookie: organizer }, payload: { paused: true } });
    const cookies: string[] = [];
    for (let i = 0; i < 20; i++) {
      const email = `restart-${i}@room.test`;
      await first.gateway.app.inject({ method: "POST", url: "/api/users", payload: { email, password: "long-enough", displayName: "B" } });
      const cookie = sessionCookie(await first.gateway.app.inject({ method: "POST", url: "/api/session", payload: { email, password: "long-enough" } }));
      await first.gateway.app.inject({ method: "POST", url: QUEUE, headers: { cookie } });
      cookies.push(cookie);
    }
    now = OPENS + 1000;
    const before: number[] = [];
    for (const cookie of cookies) before.push((await first.gateway.app.inject({ method: "GET", url: QUEUE, headers: { cookie } })).json().queue.position);
    await first.close();
    await firstStore.close();
    const secondStore = createRedisRoomStore({ url: redis.url, prefix: roomPrefix });
    const second = await createTestGateway(env, backend, { roomStore: secondStore, now: () => now });
    try {
      now += 30_000;
      const after: number[] = [];
      for (const cookie of cookies) after.push((await second.gateway.app.inject({ method: "GET", url: QUEUE, headers: { cookie } })).json().queue.position);
      expect(after).toEqual(before);
      expect([...after].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    } finally {
      await second.close();
      await secondStore.close();
    }
  });
});

describe("every 503 carries Retry-After", () => {
  it("when checkout requests in progress reach their bound, the next one is 503 BUSY with checkout's own Retry-After at once, and health still answers", async () => {
    const backend = createFakeBackend();
    const t = await createTestGateway({ INFLIGHT_MAX_CHECKOUT: "1", BUSY_RETRY_AFTER_SECONDS: "4", CHECKOUT_BUSY_RETRY_AFTER_SECONDS: "3" }, backend);
    try {
      const email = "bound@room.test";
      await t.gateway.app.inject({ method: "POST", url: "/api/users", payload: { email, password: "long-enough", displayName: "B" } });
      const cookie = sessionCookie(await t.gateway.app.inject({ method: "POST", url: "/api/session", payload: { email, password: "long-enough" } }));
      // The first hold waits on the catalogue (its event's opening time); it holds the one checkout slot.
      const release = backend.holdGetEvent();
      const first = t.gateway.app.inject({ method: "POST", url: "/api/events/100/holds", headers: { cookie }, payload: { quantity: 1 } });
      await waitFor(() => backend.calls.getEventSchedule > 0, { what: "the first hold to be in progress" });
      const second = await t.gateway.app.inject({ method: "POST", url: "/api/events/100/holds", headers: { cookie }, payload: { quantity: 1 } });
      expect(second.statusCode).toBe(503);
      expect(second.json().error.code).toBe("BUSY");
      // Not the BUSY default (4): an admitted buyer shed at the in-flight bound is asked back sooner.
      expect(second.headers["retry-after"]).toBe("3");
      expect((await t.gateway.app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
      release();
      expect((await first).statusCode).toBe(201);
      // The slot is free again once the first answer went out.
      expect((await t.gateway.app.inject({ method: "POST", url: "/api/events/100/holds", headers: { cookie }, payload: { quantity: 1 } })).statusCode).toBe(201);
    } finally {
      await t.close();
    }
  });

  it("when a gateway drains for shutdown, a request on a connection still open is 503 UNAVAILABLE with Retry-After in the error shape, and the request under way still completes", async () => {
    const backend = createFakeBackend();
    const t = await createTestGateway({ BUSY_RETRY_AFTER_SECONDS: "3" }, backend);
    await t.gateway.app.listen({ host: "127.0.0.1", port: 0 });
    const socket = connect((t.gateway.app.server.address() as AddressInfo).port, "127.0.0.1");
    let received = "";
    socket.setEncoding("utf8").on("data", (chunk: string) => (received += chunk));
    const ended = new Promise((resolve) => socket.once("close", resolve));
    // A request under way (the event page waits on the catalogue) keeps the connection open.
    const release = backend.holdGetEvent();
    socket.write("GET /api/events/100 HTTP/1.1\r\nHost: gateway\r\n\r\n");
    await waitFor(() => backend.calls.getEvent > 0, { what: "the first request to be under way" });
    const stopping = t.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The connection's next request arrives while the gateway drains.
    socket.write("GET /api/events HTTP/1.1\r\nHost: gateway\r\n\r\n");
    // (Its answer queues behind the first one's: answers on a connection go out in order.)
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    await ended;
    await stopping;
    const [first, second] = received.split(/(?=HTTP\/1\.1 )/);
    expect(first).toMatch(/^HTTP\/1\.1 200 /);
    expect(second).toMatch(/^HTTP\/1\.1 503 /);
    expect(second).toMatch(/\r\nretry-after: 3\r\n/i);
    expect(JSON.parse(second.slice(second.indexOf("\r\n\r\n") + 4)).error.code).toBe("UNAVAILABLE");
  });

  it("when the waiting room's Redis cannot be reached, joining and holding are 503 UNAVAILABLE with Retry-After, never 500", async () => {
    const backend = createFakeBackend();
    // Nothing listens on port 1.
    const store = createRedisRoomStore({ url: "redis://127.0.0.1:1", prefix: `${prefix}:down:` });
    const t = await createTestGateway({ BUSY_RETRY_AFTER_SECONDS: "5" }, backend, { roomStore: store });
    try {
      const email = "down@room.test";
      await t.gateway.app.inject({ method: "POST", url: "/api/users", payload: { email, password: "long-enough", displayName: "B" } });
      const cookie = sessionCookie(await t.gateway.app.inject({ method: "POST", url: "/api/session", payload: { email, password: "long-enough" } }));
      for (const request of [
        { method: "POST" as const, url: "/api/events/100/queue" },
        { method: "GET" as const, url: "/api/events/100/queue" },
        { method: "POST" as const, url: "/api/events/100/holds", payload: { quantity: 1 } },
      ]) {
        const response = await t.gateway.app.inject({ ...request, headers: { cookie } });
        expect(response.statusCode, `${request.method} ${request.url}`).toBe(503);
        expect(response.json().error.code).toBe("UNAVAILABLE");
        expect(response.headers["retry-after"]).toBe("5");
      }
    } finally {
      await t.close();
      await store.close();
    }
  });
});
