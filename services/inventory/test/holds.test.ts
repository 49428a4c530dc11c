import { RpcError } from "@boxoffice/bus";
import { DEFAULT_SEAT_PAGE_LIMIT, inventorySeatsV1, type Seat } from "@boxoffice/contracts";
import { requirePostgres } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { activeHoldsOf, availabilityOf, certainlySoldOut, placeHold, releaseHold, SEAT_PAGE_MAX_BYTES, seatEvent, seatMapPageOf, sweepExpiredHolds } from "../src/domain/holds.ts";
import { createDomainFixture, type DomainFixture } from "./support/domain-fixture.ts";
import { catalogueEvent } from "./support/events.ts";

const postgres = await requirePostgres();
// The Postgres variant is always declared: without Postgres it shows as skipped, never vanishes.
const kinds = ["pglite", "postgres"] as const;

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "OK";
  } catch (error) {
    return error instanceof RpcError ? error.code : String(error);
  }
}

/** Every page of an event's seat map, as the gateway reads it (defaults of the bus contract). */
async function seatPages(eventId: string, deps: DomainFixture["deps"], limit?: number): Promise<Seat[][]> {
  const pages: Seat[][] = [];
  let after: string | undefined;
  do {
    const page = await seatMapPageOf(inventorySeatsV1.request.parse({ eventId, after, limit }), deps);
    pages.push(page.seats);
    after = page.nextCursor ?? undefined;
  } while (after !== undefined);
  return pages;
}

async function seatMapOf(eventId: string, deps: DomainFixture["deps"]): Promise<Seat[]> {
  return (await seatPages(eventId, deps)).flat();
}

for (const kind of kinds) describe.skipIf(kind === "postgres" && !postgres.available)(`holds (${kind})`, () => {
  let f: DomainFixture;
  let clock = Date.now();
  beforeAll(async () => {
    f = await createDomainFixture(kind, { holdTtlSeconds: 60, now: () => new Date(clock) });
  });
  afterAll(async () => {
    await f?.close();
  });

  it("when an event arrives twice, its seats are created once", async () => {
    const event = catalogueEvent([
      { name: "Stalls", rows: 3, seatsPerRow: 4, priceCents: 3000 },
      { name: "Balcony", rows: 2, seatsPerRow: 5, priceCents: 2000 },
    ]);
    expect(await seatEvent(event, f.deps)).toBe(true);
    expect(await seatEvent(event, f.deps)).toBe(false);
    const seats = await seatMapOf(event.id, f.deps);
    expect(seats).toHaveLength(22);
    expect(new Set(seats.map((s) => `${s.sectionId}/${s.row}/${s.number}`)).size).toBe(22);
    expect(await availabilityOf(event.id, f.deps)).toEqual({
      eventId: event.id,
      available: 22,
      sections: [
        { id: event.sections[0].id, available: 12 },
        { id: event.sections[1].id, available: 10 },
      ],
    });
  });

  // The largest event (100,000 seats) on Postgres; PGlite is ~3x slower, so 20,000 keep CI fast.
  it("when an event has the most seats an event may have, they are all created", async () => {
    const scale = kind === "postgres" ? 1 : 5;
    const event = catalogueEvent([
      { name: "Floor", rows: 200 / scale, seatsPerRow: 250, priceCents: 5000 },
      { name: "Tier", rows: 100 / scale, seatsPerRow: 500, priceCents: 3000 },
    ]);
    await seatEvent(event, f.deps);
    expect((await availabilityOf(event.id, f.deps)).available).toBe(100_000 / scale);
  });

  it("when an event has 12,000 seats, its seat map pages add up to every seat exactly once", async () => {
    const event = catalogueEvent([
      { name: "Floor", rows: 40, seatsPerRow: 200, priceCents: 5000 },
      { name: "Tier", rows: 20, seatsPerRow: 200, priceCents: 3000 },
    ]);
    await seatEvent(event, f.deps);
    const hold = await placeHold({ buyerId: "pager", eventId: event.id, quantity: 3 }, f.deps);
    const pages = await seatPages(event.id, f.deps);
    expect(pages.map((p) => p.length)).toEqual(Array.from({ length: 12_000 / DEFAULT_SEAT_PAGE_LIMIT }, () => DEFAULT_SEAT_PAGE_LIMIT));
    const seats = pages.flat();
    expect(new Set(seats.map((s) => s.id)).size).toBe(12_000);
    expect(new Set(seats.map((s) => `${s.sectionId}/${s.row}/${s.number}`)).size).toBe(12_000);
    expect(seats.filter((s) => s.section === "Floor")).toHaveLength(8000);
    expect(seats.filter((s) => s.status === "held").map((s) => s.id).sort()).toEqual(hold.seats.map((s) => s.id).sort());
    // A limit that does not divide the seats: the last page is short and ends the map.
    const odd = await seatPages(event.id, f.deps, 5000);
    expect(odd.map((p) => p.length)).toEqual([5000, 5000, 2000]);
    expect(odd.flat().map((s) => s.id)).toEqual(seats.map((s) => s.id));
  });

  it("when section names are long and non-ASCII, a page of the largest limit is cut short to stay within a bus message", async () => {
    const event = catalogueEvent([{ name: "€".repeat(100), rows: 25, seatsPerRow: 200, priceCents: 1000 }]);
    await seatEvent(event, f.deps);
    const pages = await seatPages(event.id, f.deps, 5000);
    expect(pages.length).toBeGreaterThan(1);
    for (const page of pages) expect(Buffer.byteLength(JSON.stringify({ seats: page }))).toBeLessThanOrEqual(SEAT_PAGE_MAX_BYTES + 100);
    expect(new Set(pages.flat().map((s) => s.id)).size).toBe(5000);
  });

  it("when a seat map fills its last page exactly, that page ends the map; past it a page is empty", async () => {
    const event = catalogueEvent([{ name: "Stalls", rows: 2, seatsPerRow: 5, priceCents: 1000 }]);
    await seatEvent(event, f.deps);
    const first = await seatMapPageOf({ eventId: event.id, limit: 5 }, f.deps);
    expect(first.seats).toHaveLength(5);
    expect(first.nextCursor).toBe(first.seats[4].id);
    const last = await seatMapPageOf({ eventId: event.id, after: first.nextCursor!, limit: 5 }, f.deps);
    expect(last.seats).toHaveLength(5);
    expect(last.nextCursor).toBeNull();
    expect(await seatMapPageOf({ eventId: event.id, after: last.seats[4].id, limit: 5 }, f.deps)).toEqual({ seats: [], nextCursor: null });
    expect(await codeOf(seatMapPageOf({ eventId: catalogueEvent([]).id, limit: 10 }, f.deps))).toBe("NOT_FOUND");
  });

  it("when the seat map is asked for one section, only that section's seats come back, paged; a section of no such event is refused", async () => {
    const event = catalogueEvent([
      { name: "Stalls", rows: 2, seatsPerRow: 5, priceCents: 3000 },
      { name: "Balcony", rows: 3, seatsPerRow: 4, priceCents: 2000 },
    ]);
    await seatEvent(event, f.deps);
    const everything = await seatPages(event.id, f.deps, 100);
    const balconyId = everything.flat().find((s) => s.section === "Balcony")!.sectionId;
    const first = await seatMapPageOf({ eventId: event.id, sectionId: balconyId, limit: 7 }, f.deps);
    const rest = await seatMapPageOf({ eventId: event.id, sectionId: balconyId, after: first.nextCursor!, limit: 7 }, f.deps);
    const balcony = [...first.seats, ...rest.seats];
    expect(rest.nextCursor).toBeNull();
    expect(balcony).toHaveLength(12);
    expect(new Set(balcony.map((s) => s.section))).toEqual(new Set(["Balcony"]));
    expect(balcony.map((s) => s.id)).toEqual(everything.flat().filter((s) => s.section === "Balcony").map((s) => s.id));
    const other = catalogueEvent([{ name: "Elsewhere", rows: 1, seatsPerRow: 2, priceCents: 1000 }]);
    await seatEvent(other, f.deps);
    const elsewhere = (await seatMapPageOf({ eventId: other.id, limit: 10 }, f.deps)).seats[0].sectionId;
    expect(await codeOf(seatMapPageOf({ eventId: event.id, sectionId: elsewhere, limit: 10 }, f.deps))).toBe("VALIDATION_FAILED");
  });

  it("when a buyer holds by quantity, they get adjacent seats in one row of the cheapest section", async () => {
    const event = catalogueEvent([
      { name: "Stalls", rows: 3, seatsPerRow: 10, priceCents: 3000 },
      { name: "Balcony", rows: 2, seatsPerRow: 10, priceCents: 2000 },
    ]);
    await seatEvent(event, f.deps);
    const hold = await placeHold({ buyerId: "adj", eventId: event.id, quantity: 4 }, f.deps);
    expect(hold.seats.every((s) => s.section === "Balcony" && s.row === hold.seats[0].row)).toBe(true);
    const numbers = hold.seats.map((s) => s.number).sort((a, b) => a - b);
    expect(numbers).toEqual(numbers.map((_, i) => numbers[0] + i));
    expect(hold.totalCents).toBe(8000);
    expect((await availabilityOf(event.id, f.deps)).sections[1].available).toBe(16);
  });

  it("when a buyer holds explicit seats, a seat someone holds is SEAT_UNAVAILABLE and nothing is held", async () => {
    const event = catalogueEvent([{ name: "Stalls", rows: 2, seatsPerRow: 5, priceCents: 1000 }]);
    await seatEvent(event, f.deps);
    const seats = await seatMapOf(event.id, f.deps);
    await placeHold({ buyerId: "first", eventId: event.id, seatIds: [seats[0].id] }, f.deps);
    const error = await placeHold({ buyerId: "second", eventId: event.id, seatIds: [seats[1].id, seats[0].id] }, f.deps).catch((e: RpcError) => e);
    expect(error).toBeInstanceOf(RpcError);
    expect((error as RpcError).code).toBe("SEAT_UNAVAILABLE");
    expect((error as RpcError).details).toMatchObject({ seatIds: [seats[0].id] });
    const after = await seatMapOf(event.id, f.deps);
    expect(after.filter((s) => s.status === "held").map((s) => s.id)).toEqual([seats[0].id]);
  });

  it("when a buyer would go over 8 seats for one event, LIMIT_EXCEEDED", async () => {
    const event = catalogueEvent([{ name: "Stalls", rows: 4, seatsPerRow: 10, priceCents: 1000 }]);
    await seatEvent(event, f.deps);
    await placeHold({ buyerId: "greedy", eventId: event.id, quantity: 5 }, f.deps);
    await placeHold({ buyerId: "greedy", eventId: event.id, quantity: 3 }, f.deps);
    expect(await codeOf(placeHold({ buyerId: "greedy", eventId: event.id, quantity: 1 }, f.deps))).toBe("LIMIT_EXCEEDED");
    expect(await codeOf(placeHold({ buyerId: "modest", eventId: event.id, quantity: 8 }, f.deps))).toBe("OK");
  });

  it("when a buyer already has 4 active holds across events, a fifth is LIMIT_EXCEEDED until one is released; other buyers are not affected", async () => {
    const events = Array.from({ length: 6 }, () => catalogueEvent([{ name: "Stalls", rows: 1, seatsPerRow: 4, priceCents: 1000 }]));
    for (const event of events) await seatEvent(event, f.deps);
    const holds = [];
    for (const event of events.slice(0, 4)) holds.push(await placeHold({ buyerId: "collector", eventId: event.id, quantity: 1 }, f.deps));
    const refused = await placeHold({ buyerId: "collector", eventId: events[4].id, quantity: 1 }, f.deps).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RpcError);
    expect((refused as RpcError).code).toBe("LIMIT_EXCEEDED");
    expect((refused as RpcError).details).toMatchObject({ limit: "active_holds", activeHolds: 4, maxActiveHolds: 4 });
    expect((await availabilityOf(events[4].id, f.deps)).available).toBe(4);
    expect(await codeOf(placeHold({ buyerId: "someone-else", eventId: events[4].id, quantity: 1 }, f.deps))).toBe("OK");
    await releaseHold({ buyerId: "collector", holdId: holds[0].id }, f.deps);
    expect(await codeOf(placeHold({ buyerId: "collector", eventId: events[5].id, quantity: 1 }, f.deps))).toBe("OK");
  });

  it("when a logical shard is moving (its rows answer from two physical shards), a buyer's active holds are still counted once each", async () => {
    const events = Array.from({ length: 3 }, () => catalogueEvent([{ name: "Stalls", rows: 1, seatsPerRow: 2, priceCents: 1000 }]));
    for (const event of events) await seatEvent(event, f.deps);
    for (const event of events) await placeHold({ buyerId: "mover", eventId: event.id, quantity: 1 }, f.deps);
    // The frozen old copy of a moving logical shard answers beside the new one: the same rows twice.
    const twice = { ...f.deps, shards: { ...f.deps.shards, all: () => [...f.deps.shards.all(), ...f.deps.shards.all()] } };
    expect(await activeHoldsOf("mover", twice)).toBe(3);
    expect(await codeOf(placeHold({ buyerId: "mover", eventId: events[0].id, quantity: 1 }, twice))).toBe("OK");
  });

  it("when a buyer sends 10 holds for 10 events at once, at most 4 of them stay held", async () => {
    const events = Array.from({ length: 10 }, () => catalogueEvent([{ name: "Stalls", rows: 1, seatsPerRow: 2, priceCents: 1000 }]));
    for (const event of events) await seatEvent(event, f.deps);
    const codes = await Promise.all(events.map((event) => codeOf(placeHold({ buyerId: "script", eventId: event.id, quantity: 2 }, f.deps))));
    const held = codes.filter((c) => c === "OK").length;
    expect(codes.filter((c) => c !== "OK" && c !== "LIMIT_EXCEEDED")).toEqual([]);
    expect(held).toBeLessThanOrEqual(4);
    const stillAvailable = await Promise.all(events.map(async (event) => (await availabilityOf(event.id, f.deps)).available));
    expect(stillAvailable.filter((a) => a === 0)).toHaveLength(held);
    expect(stillAvailable.filter((a) => a === 2)).toHaveLength(10 - held);
  });

  it("when fewer seats are left than asked for, SOLD_OUT; an unknown event is NOT_FOUND", async () => {
    const event = catalogueEvent([{ name: "Stalls", rows: 1, seatsPerRow: 3, priceCents: 1000 }]);
    await seatEvent(event, f.deps);
    await placeHold({ buyerId: "a", eventId: event.id, quantity: 2 }, f.deps);
    expect(await codeOf(placeHold({ buyerId: "b", eventId: event.id, quantity: 2 }, f.deps))).toBe("SOLD_OUT");
    expect(await codeOf(placeHold({ buyerId: "b", eventId: event.id, quantity: 1 }, f.deps))).toBe("OK");
    expect(await codeOf(placeHold({ buyerId: "b", eventId: catalogueEvent([]).id, quantity: 1 }, f.deps))).toBe("NOT_FOUND");
    expect(await codeOf(placeHold({ buyerId: "b", eventId: "not-an-id", quantity: 1 }, f.deps))).toBe("NOT_FOUND");
  });

  it("when a buyer releases their hold the seats are available again; someone else's hold is NOT_FOUND", async () => {
    const event = catalogueEvent([{ name: "Stalls", rows: 1, seatsPerRow: 4, priceCents: 1000 }]);
    await seatEvent(event, f.deps);
    const hold = await placeHold({ buyerId: "owner", eventId: event.id, quantity: 4 }, f.deps);
    expect(await codeOf(releaseHold({ buyerId: "stranger", holdId: hold.id }, f.deps))).toBe("NOT_FOUND");
    await releaseHold({ buyerId: "owner", holdId: hold.id }, f.deps);
    expect((await availabilityOf(event.id, f.deps)).available).toBe(4);
    expect(await codeOf(releaseHold({ buyerId: "owner", holdId: hold.id }, f.deps))).toBe("NOT_FOUND");
    expect(f.changed).toContain(event.id);
  });

  it("when a hold runs out, its seats are available again without anyone releasing them", async () => {
    const event = catalogueEvent([{ name: "Stalls", rows: 1, seatsPerRow: 4, priceCents: 1000 }]);
    await seatEvent(event, f.deps);
    await placeHold({ buyerId: "slow", eventId: event.id, quantity: 4 }, f.deps);
    expect(await codeOf(placeHold({ buyerId: "fast", eventId: event.id, quantity: 1 }, f.deps))).toBe("SOLD_OUT");
    clock += 61_000;
    // The seat map shows them available at once; the next buyer reclaims them on the way in.
    expect((await seatMapOf(event.id, f.deps)).every((s) => s.status === "available")).toBe(true);
    const hold = await placeHold({ buyerId: "fast", eventId: event.id, quantity: 4 }, f.deps);
    expect(hold.seats).toHaveLength(4);
    clock += 61_000;
    // Nobody comes back: the sweeper frees them.
    await sweepExpiredHolds(f.deps);
    expect((await availabilityOf(event.id, f.deps)).available).toBe(4);
  });

  it("when an event has sold out, later buyers hear SOLD_OUT with the seats left, and a release or a hold running out still sells again", async () => {
    const event = catalogueEvent([{ name: "Stalls", rows: 1, seatsPerRow: 3, priceCents: 1000 }]);
    await seatEvent(event, f.deps);
    const first = await placeHold({ buyerId: "first", eventId: event.id, quantity: 2 }, f.deps);
    clock += 55_000;
    await placeHold({ buyerId: "second", eventId: event.id, quantity: 1 }, f.deps);
    // Sold out: from here on this process answers from one read while nothing can be freed.
    for (const buyer of ["late-1", "late-2"]) {
      const refused = await placeHold({ buyerId: buyer, eventId: event.id, quantity: 1 }, f.deps).catch((error: unknown) => error as RpcError);
      expect(refused).toBeInstanceOf(RpcError);
      expect((refused as RpcError).code).toBe("SOLD_OUT");
      expect((refused as RpcError).details).toMatchObject({ available: 0 });
    }
    // 61 s after it was taken, the first hold has run out (the sold-out answer is 6 s old): its seats sell.
    clock += 6_000;
    const resold = await placeHold({ buyerId: "late-1", eventId: event.id, quantity: 2 }, f.deps);
    expect(resold.seats.map((s) => s.id).sort()).toEqual(first.seats.map((s) => s.id).sort());
    expect(await codeOf(placeHold({ buyerId: "late-2", eventId: event.id, quantity: 1 }, f.deps))).toBe("SOLD_OUT");
    await releaseHold({ buyerId: "late-1", holdId: resold.id }, f.deps);
    expect(await codeOf(placeHold({ buyerId: "late-2", eventId: event.id, quantity: 2 }, f.deps))).toBe("OK");
    expect((await availabilityOf(event.id, f.deps)).available).toBe(0);
  });

  it("when 40 buyers hold 2 seats each of 50 at once, exactly 25 get seats and no seat is held twice", async () => {
    const event = catalogueEvent([{ name: "Stalls", rows: 5, seatsPerRow: 10, priceCents: 1000 }]);
    await seatEvent(event, f.deps);
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => placeHold({ buyerId: `racer-${i}`, eventId: event.id, quantity: 2 }, f.deps)),
    );
    const won = results.filter((r) => r.status === "fulfilled").map((r) => (r as PromiseFulfilledResult<Awaited<ReturnType<typeof placeHold>>>).value);
    const lost = results.filter((r) => r.status === "rejected").map((r) => ((r as PromiseRejectedResult).reason as RpcError).code);
    expect(won).toHaveLength(25);
    expect(lost.every((code) => code === "SOLD_OUT")).toBe(true);
    const seatIds = won.flatMap((h) => h.seats.map((s) => s.id));
    expect(new Set(seatIds).size).toBe(50);
    expect((await availabilityOf(event.id, f.deps)).available).toBe(0);
  });
});

describe("the sold-out shortcut's rule", () => {
  it("when fewer seats are available than asked and no hold ran out, the hold certainly fails; otherwise the full hold decides", () => {
    expect(certainlySoldOut({ status: "on_sale", available: 1, expiredHolds: false }, 2)).toBe(1);
    expect(certainlySoldOut({ status: "on_sale", available: 0, expiredHolds: false }, 1)).toBe(0);
    expect(certainlySoldOut({ status: "on_sale", available: 2, expiredHolds: false }, 2)).toBeUndefined();
    expect(certainlySoldOut({ status: "on_sale", available: 0, expiredHolds: true }, 1)).toBeUndefined();
    expect(certainlySoldOut({ status: "cancelled", available: 0, expiredHolds: false }, 1)).toBeUndefined();
    expect(certainlySoldOut(undefined, 1)).toBeUndefined();
  });
});
