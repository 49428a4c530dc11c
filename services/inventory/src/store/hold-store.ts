// Holds: taking seats atomically, releasing them, and reclaiming expired ones.
//
// Lock order, the same everywhere so transactions never wait on each other in a cycle:
// hold row → buyer_usage row → seats → section counters (by section, slot).
// Holding by quantity never waits on a seat: it locks one sub-counter with SKIP LOCKED (so
// concurrent buyers spread over different counter rows) and then the seats of that slot with
// SKIP LOCKED.
import { MAX_SEATS_PER_BUYER } from "@boxoffice/contracts";
import type { Sql } from "./sql.ts";
import { NOT_FENCED, toIso } from "./sql.ts";

export interface HeldSeatRow {
  id: string;
  sectionId: string;
  section: string;
  row: number;
  number: number;
  priceCents: number;
}

export interface HoldRecord {
  id: string;
  eventId: string;
  buyerId: string;
  seats: HeldSeatRow[];
  totalCents: number;
  expiresAt: string;
}

export type HoldFailure =
  | { ok: false; reason: "NOT_FOUND" }
  | { ok: false; reason: "SOLD_OUT"; available: number }
  | { ok: false; reason: "SEAT_UNAVAILABLE"; seatIds: string[] }
  | { ok: false; reason: "LIMIT_EXCEEDED"; held: number }
  | { ok: false; reason: "CANCELLED" };

export type HoldOutcome = { ok: true; hold: HoldRecord } | HoldFailure;

export interface NewHold {
  holdId: string;
  eventId: string;
  buyerId: string;
  logicalShard: number;
  expiresAt: Date;
}

/** Thrown inside a transaction to roll it back and return a failure. */
class Rollback extends Error {
  readonly failure: HoldFailure;
  constructor(failure: HoldFailure) {
    super(failure.reason);
    this.failure = failure;
  }
}

// Seats locked per slot when looking for adjacent ones: enough to find a run of 8 in most rows.
const PICK_WINDOW = 24;

async function rollbackable(fn: () => Promise<HoldOutcome>): Promise<HoldOutcome> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof Rollback) return error.failure;
    throw error;
  }
}

async function checkSelling(tx: Sql, eventId: string): Promise<void> {
  const seating = await tx.query<{ status: string }>(`SELECT status FROM inventory.event_seating WHERE event_id = $1`, [eventId]);
  if (seating.rows.length === 0) throw new Rollback({ ok: false, reason: "NOT_FOUND" });
  if (seating.rows[0].status !== "on_sale") throw new Rollback({ ok: false, reason: "CANCELLED" });
}

async function reserveUsage(tx: Sql, hold: NewHold, count: number): Promise<void> {
  const usage = await tx.query<{ seats: number }>(
    `INSERT INTO inventory.buyer_usage (event_id, buyer_id, logical_shard, seats) VALUES ($1, $2, $3, $4)
     ON CONFLICT (event_id, buyer_id) DO UPDATE SET seats = buyer_usage.seats + EXCLUDED.seats
       WHERE buyer_usage.seats + EXCLUDED.seats <= ${MAX_SEATS_PER_BUYER}
     RETURNING seats`,
    [hold.eventId, hold.buyerId, hold.logicalShard, count],
  );
  if (usage.rowCount === 0) {
    const current = await tx.query<{ seats: number }>(`SELECT seats FROM inventory.buyer_usage WHERE event_id = $1 AND buyer_id = $2`, [hold.eventId, hold.buyerId]);
    throw new Rollback({ ok: false, reason: "LIMIT_EXCEEDED", held: Number(current.rows[0]?.seats ?? 0) });
  }
}

interface PickedSeat {
  id: string;
  section_id: string;
  slot: number;
  row: number;
  number: number;
}

/** The first run of `n` adjacent seats in one row, else the first `n` (seats sorted by row, number). */
export function chooseSeats<T extends { row: number; number: number }>(seats: T[], n: number): T[] {
  for (let i = 0; i + n <= seats.length; i++) {
    let run = true;
    for (let k = 1; k < n && run; k++) {
      run = seats[i + k].row === seats[i].row && seats[i + k].number === seats[i].number + k;
    }
    if (run) return seats.slice(i, i + n);
  }
  return seats.slice(0, n);
}

async function lockSlotSeats(tx: Sql, eventId: string, sectionId: string, slot: number, limit: number): Promise<PickedSeat[]> {
  const result = await tx.query<PickedSeat>(
    `SELECT id, section_id, slot, row, number FROM inventory.seats
     WHERE event_id = $1 AND section_id = $2 AND slot = $3 AND status = 'available'
     ORDER BY row, number LIMIT $4 FOR UPDATE SKIP LOCKED`,
    [eventId, sectionId, slot, limit],
  );
  return result.rows;
}

interface CounterRow {
  section_id: string;
  slot: number;
  available: number;
}

/** Picks `n` seats on one sub-counter of the best section, spreading buyers over sub-counters. */
async function pickFromOneSlot(tx: Sql, eventId: string, n: number): Promise<PickedSeat[] | undefined> {
  for (let attempt = 0; attempt < 3; attempt++) {
    let counter = (
      await tx.query<CounterRow>(
        `SELECT c.section_id, c.slot, c.available FROM inventory.section_counters c
         JOIN inventory.event_seating e ON e.event_id = c.event_id AND e.status = 'on_sale'
         WHERE c.event_id = $1 AND c.available >= $2
         ORDER BY c.price_cents, c.position, random() LIMIT 1 FOR UPDATE OF c SKIP LOCKED`,
        [eventId, n],
      )
    ).rows[0];
    if (!counter) {
      // Every counter that could serve us is busy (or none can): wait for one busy candidate
      // rather than spinning; if none exists at all the caller falls back to several slots.
      const busy = (
        await tx.query<CounterRow>(
          `SELECT c.section_id, c.slot FROM inventory.section_counters c
           JOIN inventory.event_seating e ON e.event_id = c.event_id AND e.status = 'on_sale'
           WHERE c.event_id = $1 AND c.available >= $2 ORDER BY c.price_cents, c.position, random() LIMIT 1`,
          [eventId, n],
        )
      ).rows[0];
      if (!busy) return undefined;
      counter = (
        await tx.query<CounterRow>(
          `SELECT section_id, slot, available FROM inventory.section_counters
           WHERE event_id = $1 AND section_id = $2 AND slot = $3 AND available >= $4 FOR UPDATE`,
          [eventId, busy.section_id, busy.slot, n],
        )
      ).rows[0];
      if (!counter) continue;
    }
    const seats = await lockSlotSeats(tx, eventId, counter.section_id, counter.slot, Math.max(PICK_WINDOW, n));
    if (seats.length >= n) return chooseSeats(seats, n);
    // Seats of this slot are locked by explicit-seat holders right now: try elsewhere.
  }
  return undefined;
}

/** Fallback when no single sub-counter has `n` seats: take them from several, best first. */
async function pickAcrossSlots(tx: Sql, eventId: string, n: number): Promise<PickedSeat[]> {
  const counters = await tx.query<CounterRow>(
    `SELECT section_id, slot, available FROM inventory.section_counters WHERE event_id = $1 AND available > 0
     ORDER BY section_id, slot FOR UPDATE`,
    [eventId],
  );
  const order = await tx.query<{ section_id: string; slot: number }>(
    `SELECT section_id, slot FROM inventory.section_counters WHERE event_id = $1 AND available > 0 ORDER BY price_cents, position, slot`,
    [eventId],
  );
  const locked = new Set(counters.rows.map((c) => `${c.section_id}/${c.slot}`));
  const picked: PickedSeat[] = [];
  for (const c of order.rows) {
    if (picked.length >= n) break;
    if (!locked.has(`${c.section_id}/${c.slot}`)) continue;
    const seats = await lockSlotSeats(tx, eventId, c.section_id, c.slot, n - picked.length);
    picked.push(...seats);
  }
  return picked;
}

/**
 * Marks the locked seats held, takes them off their sub-counters (conditionally: a counter never
 * goes below zero) and records the hold — one statement, so a hold costs few round trips. The
 * hold's created_at is the moment the seats were taken (not the transaction's start, which may
 * precede a wait for a busy sub-counter).
 */
async function takeSeatsAndRecord(tx: Sql, hold: NewHold, seatIds: string[]): Promise<HoldRecord> {
  const result = await tx.query<HeldSeatRow & { counters: number; wanted: number }>(
    `WITH taken AS (
       UPDATE inventory.seats SET status = 'held', hold_id = $1
       WHERE id = ANY($2::text[]) AND status = 'available'
       RETURNING id, section_id, slot, row, number, price_cents),
     per_counter AS (SELECT section_id, slot, count(*)::int AS k FROM taken GROUP BY section_id, slot),
     counted AS (
       UPDATE inventory.section_counters c SET available = c.available - p.k
       FROM per_counter p
       WHERE c.event_id = $3 AND c.section_id = p.section_id AND c.slot = p.slot AND c.available >= p.k
       RETURNING c.slot),
     recorded AS (
       INSERT INTO inventory.holds (id, event_id, logical_shard, buyer_id, status, seat_ids, total_cents, expires_at, created_at)
       SELECT $1, $3, $4, $5, 'active', array_agg(id ORDER BY id), sum(price_cents), $6, clock_timestamp() FROM taken
       RETURNING id)
     SELECT t.id, t.section_id AS "sectionId", sec.name AS section, t.row, t.number, t.price_cents AS "priceCents",
            (SELECT count(*) FROM counted)::int AS counters, (SELECT count(*) FROM per_counter)::int AS wanted
     FROM taken t JOIN inventory.sections sec ON sec.id = t.section_id
     ORDER BY sec.position, t.row, t.number`,
    [hold.holdId, seatIds, hold.eventId, hold.logicalShard, hold.buyerId, hold.expiresAt],
  );
  // We hold the row locks, so anything short of all seats and all counters is a broken invariant.
  if (result.rows.length !== seatIds.length) throw new Error(`hold ${hold.holdId}: ${result.rows.length} of ${seatIds.length} locked seats were available`);
  const first = result.rows[0];
  if (first && first.counters !== first.wanted) throw new Error(`hold ${hold.holdId}: a sub-counter had fewer seats than it counted`);
  const seats = result.rows.map((s) => ({
    id: s.id,
    sectionId: s.sectionId,
    section: s.section,
    row: Number(s.row),
    number: Number(s.number),
    priceCents: Number(s.priceCents),
  }));
  return {
    id: hold.holdId,
    eventId: hold.eventId,
    buyerId: hold.buyerId,
    seats,
    totalCents: seats.reduce((sum, seat) => sum + seat.priceCents, 0),
    expiresAt: hold.expiresAt.toISOString(),
  };
}

/** Holds `quantity` best-available seats: adjacent in one row of the best section when possible. */
export async function holdByQuantity(sql: Sql, hold: NewHold, quantity: number): Promise<HoldOutcome> {
  return rollbackable(() =>
    sql.transaction(async (tx) => {
      await reserveUsage(tx, hold, quantity);
      let seats = await pickFromOneSlot(tx, hold.eventId, quantity);
      if (!seats) {
        // The slow path: say why (no seats here, not on sale) before looking across sub-counters.
        await checkSelling(tx, hold.eventId);
        seats = await pickAcrossSlots(tx, hold.eventId, quantity);
        if (seats.length < quantity) {
          const total = await tx.query<{ available: number }>(
            `SELECT coalesce(sum(available), 0)::int AS available FROM inventory.section_counters WHERE event_id = $1`,
            [hold.eventId],
          );
          throw new Rollback({ ok: false, reason: "SOLD_OUT", available: Number(total.rows[0].available) });
        }
      }
      return { ok: true, hold: await takeSeatsAndRecord(tx, hold, seats.map((s) => s.id)) };
    }),
  );
}

/** Holds exactly these seats, or none of them (SEAT_UNAVAILABLE names the ones taken). */
export async function holdSeats(sql: Sql, hold: NewHold, seatIds: string[]): Promise<HoldOutcome> {
  const wanted = [...new Set(seatIds)].sort();
  return rollbackable(() =>
    sql.transaction(async (tx) => {
      await checkSelling(tx, hold.eventId);
      await reserveUsage(tx, hold, wanted.length);
      const seats = await tx.query<PickedSeat & { status: string }>(
        `SELECT id, section_id, slot, row, number, status FROM inventory.seats WHERE event_id = $1 AND id = ANY($2::text[]) ORDER BY id FOR UPDATE`,
        [hold.eventId, wanted],
      );
      const found = new Set(seats.rows.map((s) => s.id));
      const missing = wanted.filter((id) => !found.has(id));
      const taken = seats.rows.filter((s) => s.status !== "available").map((s) => s.id);
      if (missing.length > 0 || taken.length > 0) throw new Rollback({ ok: false, reason: "SEAT_UNAVAILABLE", seatIds: [...missing, ...taken] });
      return { ok: true, hold: await takeSeatsAndRecord(tx, hold, wanted) };
    }),
  );
}

interface HoldRow {
  id: string;
  event_id: string;
  buyer_id: string;
  status: "active" | "released" | "expired" | "confirmed";
  seat_ids: string[];
  total_cents: number;
  expires_at: Date | string;
}

/** Frees the seats of an active hold inside `tx` (the hold row must already be locked). */
async function freeHold(tx: Sql, hold: HoldRow, status: "released" | "expired"): Promise<void> {
  await tx.query(`UPDATE inventory.holds SET status = $2 WHERE id = $1`, [hold.id, status]);
  await tx.query(`UPDATE inventory.buyer_usage SET seats = greatest(seats - $3, 0) WHERE event_id = $1 AND buyer_id = $2`, [
    hold.event_id,
    hold.buyer_id,
    hold.seat_ids.length,
  ]);
  const freed = await tx.query<{ section_id: string; slot: number }>(
    `UPDATE inventory.seats SET status = 'available', hold_id = NULL WHERE hold_id = $1 AND status = 'held' RETURNING section_id, slot`,
    [hold.id],
  );
  const perCounter = new Map<string, { sectionId: string; slot: number; count: number }>();
  for (const s of freed.rows) {
    const key = `${s.section_id}/${s.slot}`;
    const entry = perCounter.get(key) ?? { sectionId: s.section_id, slot: Number(s.slot), count: 0 };
    entry.count++;
    perCounter.set(key, entry);
  }
  const ordered = [...perCounter.values()].sort((a, b) => (a.sectionId === b.sectionId ? a.slot - b.slot : a.sectionId < b.sectionId ? -1 : 1));
  for (const c of ordered) {
    await tx.query(`UPDATE inventory.section_counters SET available = available + $4 WHERE event_id = $1 AND section_id = $2 AND slot = $3`, [
      hold.event_id,
      c.sectionId,
      c.slot,
      c.count,
    ]);
  }
}

/** Releases the buyer's active hold; false when there is no such active hold of theirs. */
export async function releaseHold(sql: Sql, holdId: string, buyerId: string): Promise<{ eventId: string } | undefined> {
  return sql.transaction(async (tx) => {
    const hold = (
      await tx.query<HoldRow>(`SELECT * FROM inventory.holds WHERE id = $1 AND buyer_id = $2 AND status = 'active' FOR UPDATE`, [holdId, buyerId])
    ).rows[0];
    if (!hold) return undefined;
    await freeHold(tx, hold, "released");
    return { eventId: hold.event_id };
  });
}

/**
 * Reclaims holds that ran out (of one event, or any on this shard): their seats become available.
 * SKIP LOCKED so that the sweeper and buyers' lazy reclaims never wait on each other.
 */
export async function reclaimExpired(sql: Sql, now: Date, options: { eventId?: string; limit?: number } = {}): Promise<string[]> {
  return sql.transaction(async (tx) => {
    const params: unknown[] = [now, options.limit ?? 50];
    const byEvent = options.eventId ? `AND event_id = $3` : "";
    if (options.eventId) params.push(options.eventId);
    const expired = await tx.query<HoldRow>(
      `SELECT * FROM inventory.holds WHERE status = 'active' AND expires_at <= $1 AND ${NOT_FENCED} ${byEvent}
       ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
      params,
    );
    for (const hold of expired.rows) await freeHold(tx, hold, "expired");
    return [...new Set(expired.rows.map((h) => h.event_id))];
  });
}

/** Ids of the active, not yet run out, holds on this shard of each of these buyers (one read for all of them). */
export async function readActiveHoldIdsOf(sql: Sql, buyerIds: string[], now: Date): Promise<Array<{ buyerId: string; id: string }>> {
  const result = await sql.query<{ buyer_id: string; id: string }>(
    `SELECT buyer_id, id FROM inventory.holds WHERE buyer_id = ANY($1::text[]) AND status = 'active' AND expires_at > $2`,
    [buyerIds, now],
  );
  return result.rows.map((r) => ({ buyerId: r.buyer_id, id: r.id }));
}

export interface SellingState {
  status: string;
  /** Seats on every sub-counter of the event. */
  available: number;
  /** Whether an active hold of the event ran out by `now` (a reclaim would free seats). */
  expiredHolds: boolean;
}

/** One read, no locks: the event's selling status, its available seats, and whether a hold ran out. */
export async function readSellingState(sql: Sql, eventId: string, now: Date): Promise<SellingState | undefined> {
  const row = (
    await sql.query<{ status: string; available: number; expired_holds: boolean }>(
      `SELECT e.status,
              (SELECT coalesce(sum(c.available), 0)::int FROM inventory.section_counters c WHERE c.event_id = e.event_id) AS available,
              EXISTS (SELECT 1 FROM inventory.holds h WHERE h.event_id = e.event_id AND h.status = 'active' AND h.expires_at <= $2) AS expired_holds
       FROM inventory.event_seating e WHERE e.event_id = $1`,
      [eventId, now],
    )
  ).rows[0];
  return row ? { status: row.status, available: Number(row.available), expiredHolds: row.expired_holds } : undefined;
}

export interface HoldView {
  id: string;
  eventId: string;
  buyerId: string;
  status: HoldRow["status"];
  seatIds: string[];
  totalCents: number;
  expiresAt: string;
}

/**
 * A hold and whether an order was made of it, in one statement: the checkout's first read (nearly
 * always a hold with no order yet, so the order itself is read only when there is one).
 */
export async function readHoldAndOrderId(sql: Sql, holdId: string): Promise<{ hold: HoldView; orderId: string | null } | undefined> {
  const row = (
    await sql.query<HoldRow & { order_id: string | null }>(
      `SELECT h.*, (SELECT o.id FROM inventory.orders o WHERE o.hold_id = h.id LIMIT 1) AS order_id FROM inventory.holds h WHERE h.id = $1`,
      [holdId],
    )
  ).rows[0];
  if (!row) return undefined;
  return { hold: toHoldView(row), orderId: row.order_id };
}

function toHoldView(row: HoldRow): HoldView {
  return {
    id: row.id,
    eventId: row.event_id,
    buyerId: row.buyer_id,
    status: row.status,
    seatIds: row.seat_ids,
    totalCents: Number(row.total_cents),
    expiresAt: toIso(row.expires_at),
  };
}

export async function readHold(sql: Sql, holdId: string): Promise<HoldView | undefined> {
  const row = (await sql.query<HoldRow>(`SELECT * FROM inventory.holds WHERE id = $1`, [holdId])).rows[0];
  return row ? toHoldView(row) : undefined;
}
