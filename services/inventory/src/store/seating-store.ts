// Creating an event's seats (once) and reading its seat map and availability.
import type { Sql } from "./sql.ts";

export interface SeatingSection {
  id: string;
  name: string;
  rows: number;
  seatsPerRow: number;
  priceCents: number;
}

export interface SeatingInput {
  eventId: string;
  logicalShard: number;
  version: number;
  sections: SeatingSection[];
  /** Sub-counters per section (rows are spread over them round-robin). */
  counterSlots: number;
  /** A fresh seat id per call (the id generator's childOf(eventId)). */
  newSeatId: () => string;
}

// Seats go in as one array parameter of ids per batch (row and number computed in SQL): a few
// statements for 100,000 seats instead of 100,000 inserts.
const BATCH = 10_000;

export function slotCount(rows: number, counterSlots: number): number {
  return Math.max(1, Math.min(rows, counterSlots));
}

/** Creates the seats and counters of an event; false (and nothing written) when they already exist. */
export async function createSeating(sql: Sql, input: SeatingInput): Promise<boolean> {
  const capacity = input.sections.reduce((sum, s) => sum + s.rows * s.seatsPerRow, 0);
  return sql.transaction(async (tx) => {
    const marker = await tx.query(
      `INSERT INTO inventory.event_seating (event_id, logical_shard, version, capacity) VALUES ($1, $2, $3, $4)
       ON CONFLICT (event_id) DO NOTHING RETURNING event_id`,
      [input.eventId, input.logicalShard, input.version, capacity],
    );
    if (marker.rowCount === 0) return false;
    for (const [position, section] of input.sections.entries()) {
      const slots = slotCount(section.rows, input.counterSlots);
      await tx.query(
        `INSERT INTO inventory.sections (id, event_id, logical_shard, name, position, price_cents, rows, seats_per_row)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [section.id, input.eventId, input.logicalShard, section.name, position, section.priceCents, section.rows, section.seatsPerRow],
      );
      // Counter of slot s = seats of the rows r with (r - 1) % slots = s.
      await tx.query(
        `INSERT INTO inventory.section_counters (event_id, section_id, slot, logical_shard, price_cents, position, available)
         SELECT $1, $2, s, $3, $4, $5, $6::int * (($7::int - 1 - s) / $8::int + 1)
         FROM generate_series(0, $8::int - 1) AS s`,
        [input.eventId, section.id, input.logicalShard, section.priceCents, position, section.seatsPerRow, section.rows, slots],
      );
      const total = section.rows * section.seatsPerRow;
      for (let from = 0; from < total; from += BATCH) {
        const count = Math.min(BATCH, total - from);
        const ids = Array.from({ length: count }, () => input.newSeatId());
        await tx.query(
          // unnest WITH ORDINALITY numbers the ids (subscripting a long text[] per row is quadratic).
          `INSERT INTO inventory.seats (id, event_id, section_id, logical_shard, slot, row, number, price_cents)
           SELECT u.id, $1, $2, $3, ((i - 1) / $5::int) % $6::int, (i - 1) / $5::int + 1, (i - 1) % $5::int + 1, $4
           FROM unnest($8::text[]) WITH ORDINALITY AS u(id, k), LATERAL (SELECT (u.k + $7::int)::int AS i) AS n`,
          [input.eventId, section.id, input.logicalShard, section.priceCents, section.seatsPerRow, slots, from, ids],
        );
      }
    }
    return true;
  });
}

/** Stops selling an event (cancelled): holds still run out, nothing new is held. */
export async function markSeatingCancelled(sql: Sql, eventId: string): Promise<void> {
  await sql.query(`UPDATE inventory.event_seating SET status = 'cancelled' WHERE event_id = $1`, [eventId]);
}

export interface SectionAvailability {
  id: string;
  available: number;
}

/** Per-section availability from the sub-counters; undefined when the event has no seats here. */
export async function readAvailability(sql: Sql, eventId: string): Promise<SectionAvailability[] | undefined> {
  const result = await sql.query<{ id: string; available: number }>(
    `SELECT section_id AS id, sum(available)::int AS available, min(position) AS position
     FROM inventory.section_counters WHERE event_id = $1 GROUP BY section_id ORDER BY min(position)`,
    [eventId],
  );
  if (result.rows.length === 0) return undefined;
  return result.rows.map((r) => ({ id: r.id, available: Number(r.available) }));
}

export interface SeatRow {
  id: string;
  sectionId: string;
  section: string;
  row: number;
  number: number;
  status: "available" | "held" | "sold";
}

/**
 * One page of the seat map, keyset-paginated by seat id (index seats_event_seat_idx): the seats with
 * an id after `after`, at most `limit`. A seat whose hold has run out shows as available even before
 * it is reclaimed. Undefined when the event has no seats here.
 */
export async function readSeatMapPage(
  sql: Sql,
  page: { eventId: string; after?: string; limit: number; sectionId?: string },
  now: Date,
): Promise<SeatRow[] | undefined | "UNKNOWN_SECTION"> {
  const result = await sql.query<SeatRow>(
    `SELECT s.id, s.section_id AS "sectionId", sec.name AS section, s.row, s.number,
            CASE WHEN s.status = 'held' AND h.expires_at <= $2 THEN 'available' ELSE s.status END AS status
     FROM (SELECT * FROM inventory.seats WHERE event_id = $1 AND ($3::text IS NULL OR id > $3::text) AND ($5::text IS NULL OR section_id = $5::text)
           ORDER BY id LIMIT $4) s
     JOIN inventory.sections sec ON sec.id = s.section_id
     LEFT JOIN inventory.holds h ON h.id = s.hold_id
     ORDER BY s.id`,
    [page.eventId, now, page.after ?? null, page.limit, page.sectionId ?? null],
  );
  if (result.rows.length === 0) {
    const exists = await sql.query(`SELECT 1 FROM inventory.event_seating WHERE event_id = $1`, [page.eventId]);
    if (exists.rows.length === 0) return undefined;
    if (page.sectionId !== undefined && page.after === undefined) {
      const section = await sql.query(`SELECT 1 FROM inventory.sections WHERE id = $1 AND event_id = $2`, [page.sectionId, page.eventId]);
      if (section.rows.length === 0) return "UNKNOWN_SECTION";
    }
    return [];
  }
  return result.rows;
}
