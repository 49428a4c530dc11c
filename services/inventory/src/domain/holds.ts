// Use cases of seats and holds: creating an event's seats, holding, releasing, reclaiming expired
// holds, and reading availability and the seat map.
import { RpcError } from "@boxoffice/bus";
import type { Availability, CatalogueEvent, Hold, Seat } from "@boxoffice/contracts";
import { inventoryError, InventoryErrorCodes } from "../errors.ts";
import {
  holdSeats,
  readActiveHoldIdsOf,
  readSellingState,
  reclaimExpired,
  releaseHold as releaseHoldRow,
  type HoldOutcome,
  type SellingState,
} from "../store/hold-store.ts";
import { createSeating, markSeatingCancelled, readAvailability, readSeatMapPage } from "../store/seating-store.ts";
import { withRetry, type Sql } from "../store/sql.ts";
import { holdByQuantityGrouped } from "./hold-batcher.ts";
import type { InventoryDeps } from "./ports.ts";

/** The shard of an event; an id that is not one of ours cannot have seats (NOT_FOUND). */
export function eventShard(deps: Pick<InventoryDeps, "shards">, eventId: string, what = "event"): Sql {
  try {
    return deps.shards.forId(eventId);
  } catch {
    throw inventoryError(InventoryErrorCodes.NOT_FOUND, `no such ${what}`, { id: eventId });
  }
}

/** Creates seats the first time an event is seen on sale; does nothing on a repeat. */
export async function seatEvent(event: CatalogueEvent, deps: Pick<InventoryDeps, "shards" | "ids" | "counterSlots" | "availability">): Promise<boolean> {
  const sql = eventShard(deps, event.id);
  if (event.status === "cancelled") {
    await markSeatingCancelled(sql, event.id);
    return false;
  }
  if (event.status !== "on_sale") return false;
  const created = await withRetry(() =>
    createSeating(sql, {
      eventId: event.id,
      logicalShard: deps.shards.logicalShardOfId(event.id),
      version: event.version,
      sections: event.sections.map((s) => ({ id: s.id, name: s.name, rows: s.rows, seatsPerRow: s.seatsPerRow, priceCents: s.priceCents })),
      counterSlots: deps.counterSlots,
      newSeatId: () => deps.ids.childOf(event.id),
    }),
  );
  if (created) deps.availability.changed(event.id);
  return created;
}

// Lazy reclaim runs at most this often per event and process: on a hot event every hold would
// otherwise pay for a reclaim transaction. A hold that finds too few seats reclaims regardless.
const RECLAIM_EVERY_MS = 250;
const lastReclaim = new WeakMap<object, Map<string, number>>();

/** Lazy reclaim: a buyer arriving at an event frees the holds of that event that ran out. */
async function reclaimEventHolds(sql: Sql, eventId: string, deps: Pick<InventoryDeps, "now" | "availability" | "shards">, force: boolean): Promise<number> {
  let seen = lastReclaim.get(deps.shards);
  if (!seen) lastReclaim.set(deps.shards, (seen = new Map()));
  const now = deps.now().getTime();
  if (!force && now - (seen.get(eventId) ?? -Infinity) < RECLAIM_EVERY_MS) return 0;
  seen.set(eventId, now);
  if (seen.size > 10_000) seen.clear();
  const events = await withRetry(() => reclaimExpired(sql, deps.now(), { eventId, limit: 20 }));
  if (events.length > 0) deps.availability.changed(eventId);
  return events.length;
}

// Once an event answered SOLD_OUT in this process, its holds by quantity look at one lock-free read
// first for this long: a sold-out on-sale's late buyers then cost one statement each instead of a
// transaction that locks counters, finds nothing, rolls back and forces a reclaim.
const SOLD_OUT_HINT_MS = 10_000;
const soldOutSeen = new WeakMap<object, Map<string, number>>();

/**
 * The seats available when a hold of `quantity` certainly fails for want of seats (on sale, fewer
 * available than asked, and no hold ran out that a reclaim would free); undefined otherwise. The
 * read is one snapshot of committed state, so answering SOLD_OUT from it is the answer the buyer
 * would have had a moment earlier; it never takes a seat.
 */
export function certainlySoldOut(state: SellingState | undefined, quantity: number): number | undefined {
  if (!state || state.status !== "on_sale" || state.expiredHolds) return undefined;
  return state.available < quantity ? state.available : undefined;
}

function toHoldError(outcome: Exclude<HoldOutcome, { ok: true }>, eventId: string): Error {
  switch (outcome.reason) {
    case "NOT_FOUND":
      return inventoryError(InventoryErrorCodes.NOT_FOUND, "no seats for this event", { eventId });
    case "CANCELLED":
      return inventoryError(InventoryErrorCodes.SOLD_OUT, "this event is no longer on sale", { eventId, available: 0 });
    case "SOLD_OUT":
      return inventoryError(InventoryErrorCodes.SOLD_OUT, "not enough seats left", { eventId, available: outcome.available });
    case "SEAT_UNAVAILABLE":
      return inventoryError(InventoryErrorCodes.SEAT_UNAVAILABLE, "a chosen seat is held or sold", { eventId, seatIds: outcome.seatIds });
    case "LIMIT_EXCEEDED":
      return inventoryError(InventoryErrorCodes.LIMIT_EXCEEDED, "at most 8 seats per buyer per event", { eventId, held: outcome.held });
  }
}

/**
 * A buyer's active holds on every shard (their events live all over). Counted by id: while a
 * logical shard moves, its frozen old copy and the new one both hold the same rows.
 */
export function activeHoldsOf(buyerId: string, deps: Pick<InventoryDeps, "shards" | "now">): Promise<number> {
  let byClock = activeReads.get(deps.shards);
  if (!byClock) activeReads.set(deps.shards, (byClock = new Map()));
  const lane = byClock.get(deps.now) ?? { queue: [], running: false };
  byClock.set(deps.now, lane);
  const promise = new Promise<number>((resolve, reject) => lane.queue.push({ buyerId, resolve, reject }));
  // readActiveHolds never rejects: a failed read rejects the callers it served.
  if (!lane.running) readActiveHolds(lane, deps).catch(() => {});
  return promise;
}

// The counts of active holds asked for while one read is in flight go together in the next read
// (one statement per shard for all of those buyers). Each caller's read starts after it asked, so
// the count after a hold always includes that hold.
interface ActiveReadLane {
  queue: Array<{ buyerId: string; resolve(count: number): void; reject(error: unknown): void }>;
  running: boolean;
}
const activeReads = new WeakMap<object, Map<unknown, ActiveReadLane>>();
const ACTIVE_READ_BATCH = 256;

async function readActiveHolds(lane: ActiveReadLane, deps: Pick<InventoryDeps, "shards" | "now">): Promise<void> {
  lane.running = true;
  try {
    while (lane.queue.length > 0) {
      const batch = lane.queue.splice(0, ACTIVE_READ_BATCH);
      try {
        const buyers = [...new Set(batch.map((b) => b.buyerId))];
        const now = deps.now();
        const rows = await Promise.all(deps.shards.all().map((sql) => readActiveHoldIdsOf(sql, buyers, now)));
        const ids = new Map<string, Set<string>>();
        for (const row of rows.flat()) {
          const set = ids.get(row.buyerId) ?? new Set<string>();
          set.add(row.id);
          ids.set(row.buyerId, set);
        }
        for (const b of batch) b.resolve(ids.get(b.buyerId)?.size ?? 0);
      } catch (error) {
        for (const b of batch) b.reject(error);
      }
    }
  } finally {
    lane.running = false;
  }
}

function tooManyHolds(active: number, max: number): Error {
  return inventoryError(InventoryErrorCodes.LIMIT_EXCEEDED, `at most ${max} active holds per buyer across all events; release or buy one first`, {
    limit: "active_holds",
    activeHolds: active,
    maxActiveHolds: max,
  });
}

/**
 * Whether a buyer who just got a hold now has more active holds than allowed. Holds of one buyer on
 * different events live on different shards, so no single row lock orders them: the count before a
 * hold refuses the common case cheaply, and the count after it (which includes the new hold) catches
 * holds placed at the same moment — each of them sees the others, so together they never stay over
 * the cap (at worst all of them are given back).
 */
export function overActiveHoldCap(activeIncludingNew: number, max: number): boolean {
  return activeIncludingNew > max;
}

export async function placeHold(
  input: { buyerId: string; eventId: string; quantity?: number; seatIds?: string[] },
  deps: InventoryDeps,
): Promise<Hold> {
  const sql = eventShard(deps, input.eventId);
  let seen = soldOutSeen.get(deps.shards);
  if (!seen) soldOutSeen.set(deps.shards, (seen = new Map()));
  if (!input.seatIds && deps.now().getTime() - (seen.get(input.eventId) ?? -Infinity) < SOLD_OUT_HINT_MS) {
    const available = certainlySoldOut(await readSellingState(sql, input.eventId, deps.now()), input.quantity ?? 1);
    if (available !== undefined) throw toHoldError({ ok: false, reason: "SOLD_OUT", available }, input.eventId);
  }
  const before = await activeHoldsOf(input.buyerId, deps);
  if (before >= deps.maxActiveHoldsPerBuyer) throw tooManyHolds(before, deps.maxActiveHoldsPerBuyer);
  const reclaimed = await reclaimEventHolds(sql, input.eventId, deps, false);
  const holdId = deps.ids.childOf(input.eventId);
  const newHold = {
    holdId,
    eventId: input.eventId,
    buyerId: input.buyerId,
    logicalShard: deps.shards.logicalShardOfId(input.eventId),
    expiresAt: new Date(deps.now().getTime() + deps.holdTtlSeconds * 1000),
  };
  // Chosen seats keep the one-request path: their answer names the seats someone else has, and a
  // buyer picking seats on a map is not the hot path a group commit is for.
  const seatIds = input.seatIds;
  const attempt = () =>
    seatIds ? withRetry(() => holdSeats(sql, newHold, seatIds)) : holdByQuantityGrouped(sql, newHold, input.quantity ?? 1, deps);
  let outcome = await attempt();
  // Too few seats, and the throttled reclaim did not run: holds that ran out may be in the way.
  if (!outcome.ok && (outcome.reason === "SOLD_OUT" || outcome.reason === "SEAT_UNAVAILABLE") && reclaimed === 0) {
    if ((await reclaimEventHolds(sql, input.eventId, deps, true)) > 0) outcome = await attempt();
  }
  if (!outcome.ok) {
    if (outcome.reason === "SOLD_OUT") {
      seen.set(input.eventId, deps.now().getTime());
      if (seen.size > 10_000) seen.clear();
    }
    throw toHoldError(outcome, input.eventId);
  }
  const after = await activeHoldsOf(input.buyerId, deps);
  if (overActiveHoldCap(after, deps.maxActiveHoldsPerBuyer)) {
    await withRetry(() => releaseHoldRow(sql, outcome.hold.id, input.buyerId));
    throw tooManyHolds(after - 1, deps.maxActiveHoldsPerBuyer);
  }
  deps.availability.changed(input.eventId);
  const { hold } = outcome;
  return { id: hold.id, eventId: hold.eventId, seats: hold.seats, totalCents: hold.totalCents, expiresAt: hold.expiresAt };
}

export async function releaseHold(input: { buyerId: string; holdId: string }, deps: InventoryDeps): Promise<void> {
  const sql = eventShard(deps, input.holdId, "hold");
  const released = await withRetry(() => releaseHoldRow(sql, input.holdId, input.buyerId));
  if (!released) throw inventoryError(InventoryErrorCodes.NOT_FOUND, "no such hold of yours", { holdId: input.holdId });
  deps.availability.changed(released.eventId);
}

/** One sweep over every shard: frees holds that ran out; returns how many events changed. */
export async function sweepExpiredHolds(deps: Pick<InventoryDeps, "shards" | "now" | "availability">): Promise<number> {
  const changed = new Set<string>();
  let failure: unknown;
  for (const sql of deps.shards.all()) {
    try {
      for (;;) {
        const events = await withRetry(() => reclaimExpired(sql, deps.now(), { limit: 200 }));
        for (const e of events) changed.add(e);
        if (events.length === 0) break;
      }
    } catch (error) {
      // One shard down (or holding the frozen copy of a logical shard that just moved) must not
      // stop the others' sweep; the caller still hears of it.
      failure ??= error;
    }
  }
  for (const eventId of changed) deps.availability.changed(eventId);
  if (failure !== undefined) throw failure;
  return changed.size;
}

export async function availabilityOf(eventId: string, deps: Pick<InventoryDeps, "shards">): Promise<Availability> {
  const sections = await readAvailability(eventShard(deps, eventId), eventId);
  if (!sections) throw inventoryError(InventoryErrorCodes.NOT_FOUND, "no seats for this event", { eventId });
  return { eventId, available: sections.reduce((sum, s) => sum + s.available, 0), sections };
}

/** Availability of several events (missing ones left out), one query per event's shard. */
export async function availabilitiesOf(eventIds: string[], deps: Pick<InventoryDeps, "shards">): Promise<Availability[]> {
  const found = await Promise.all(
    eventIds.map(async (eventId) => {
      try {
        return await availabilityOf(eventId, deps);
      } catch (error) {
        // Events without seats here are left out; a shard that fails is the caller's error.
        if (error instanceof RpcError && error.code === InventoryErrorCodes.NOT_FOUND) return undefined;
        throw error;
      }
    }),
  );
  return found.filter((a): a is Availability => a !== undefined);
}

/**
 * The JSON budget of one seat map page: well under the bus's 1 MiB message limit even when section
 * names are long and non-ASCII (100 characters of up to 3 bytes each), whatever `limit` allows.
 */
export const SEAT_PAGE_MAX_BYTES = 768 * 1024;

export interface SeatMapPage {
  seats: Seat[];
  /** The last seat id of this page, or null when there are no more seats. */
  nextCursor: string | null;
}

/** One page of an event's seat map in seat id order; NOT_FOUND when inventory has no seats for it. */
export async function seatMapPageOf(
  page: { eventId: string; after?: string; limit: number; sectionId?: string },
  deps: Pick<InventoryDeps, "shards" | "now">,
): Promise<SeatMapPage> {
  // One seat more than the page tells whether another page follows (no empty last page to fetch).
  const rows = await readSeatMapPage(eventShard(deps, page.eventId), { ...page, limit: page.limit + 1 }, deps.now());
  if (!rows) throw inventoryError(InventoryErrorCodes.NOT_FOUND, "no seats for this event", { eventId: page.eventId });
  if (rows === "UNKNOWN_SECTION") {
    throw inventoryError(InventoryErrorCodes.VALIDATION_FAILED, "this event has no such section", {
      fields: [{ path: "query.section", message: "not a section of this event" }],
      eventId: page.eventId,
      sectionId: page.sectionId,
    });
  }
  const seats: Seat[] = [];
  let bytes = 0;
  for (const row of rows.slice(0, page.limit)) {
    const seat: Seat = { ...row, row: Number(row.row), number: Number(row.number) };
    bytes += Buffer.byteLength(JSON.stringify(seat)) + 1;
    // Cut the page short rather than exceed the budget; the caller simply asks for one more page.
    if (bytes > SEAT_PAGE_MAX_BYTES && seats.length > 0) return { seats, nextCursor: seats[seats.length - 1].id };
    seats.push(seat);
  }
  return { seats, nextCursor: rows.length > page.limit ? seats[seats.length - 1].id : null };
}
