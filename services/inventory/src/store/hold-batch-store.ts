// Group commit of holds by quantity: the holds of one event that queued while the previous
// transaction of that event was in flight are served by one transaction of a fixed number of
// statements (lock the buyers' usage rows, pick seats for all of them with SKIP LOCKED, take the
// seats + move the counters + record the holds + add the usage in one statement), whatever their
// number. Each request keeps its own answer: LIMIT_EXCEEDED is decided per request in arrival order
// (a buyer twice in a batch sees their earlier request's seats), and a request the batch could not
// serve (too few seats it could lock, the event not on sale, a counter busy) is left undecided for
// the caller to run alone on the one-request path, which gives today's answer (SOLD_OUT with the
// seats left, NOT_FOUND, a forced reclaim...).
//
// Lock order, as on the one-request path: buyer_usage rows (here sorted by buyer) → section
// counters (SKIP LOCKED) → seats (SKIP LOCKED). Counters and seats are locked lazily, one counter at
// a time, only as far as the seats asked for: the outer LIMIT stops the nested loop (EXPLAIN
// ANALYZE on Postgres 15: one counter and 120 seats locked of 16 and 10,000 for 120 asked), and the
// inner one makes each counter's seats an ordered scan of seats_pick_idx rather than a sort.
import { MAX_SEATS_PER_BUYER } from "@boxoffice/contracts";
import { chooseSeats, type HeldSeatRow, type HoldOutcome, type HoldRecord, type NewHold } from "./hold-store.ts";
import type { Sql } from "./sql.ts";

export interface BatchHoldRequest {
  hold: NewHold;
  quantity: number;
}

/** The batch's usage upsert met a row it did not lock (a concurrent first hold of the same buyer): run each request alone. */
export class BatchUsageConflict extends Error {
  constructor() {
    super("a buyer's usage changed under the batch");
  }
}

// Seats locked beyond what the batch needs, so a request can find adjacent seats (as PICK_WINDOW on
// the one-request path).
const PICK_WINDOW = 24;

interface PickedSeat {
  id: string;
  section_id: string;
  slot: number;
  row: number;
  number: number;
}

/** q seats from the pools (one per sub-counter, best first): adjacent in one pool when possible, else across pools. */
function takeFromPools(pools: PickedSeat[][], q: number): PickedSeat[] | undefined {
  for (const pool of pools) {
    if (pool.length < q) continue;
    const chosen = chooseSeats(pool, q);
    const ids = new Set(chosen.map((s) => s.id));
    pool.splice(0, pool.length, ...pool.filter((s) => !ids.has(s.id)));
    return chosen;
  }
  if (pools.reduce((sum, p) => sum + p.length, 0) < q) return undefined;
  const chosen: PickedSeat[] = [];
  for (const pool of pools) {
    while (chosen.length < q && pool.length > 0) chosen.push(pool.shift()!);
  }
  return chosen;
}

/**
 * Serves holds by quantity of one event in one transaction. Returns one entry per request, in
 * order: its outcome, or undefined when the batch left it to the one-request path. Every request
 * must be of the same event and ask for 1..MAX_SEATS_PER_BUYER seats.
 */
export async function holdByQuantityBatch(sql: Sql, requests: BatchHoldRequest[]): Promise<Array<HoldOutcome | undefined>> {
  const eventId = requests[0].hold.eventId;
  const logicalShard = requests[0].hold.logicalShard;
  for (const r of requests) {
    if (r.hold.eventId !== eventId) throw new Error("a hold batch spans one event");
    if (!Number.isInteger(r.quantity) || r.quantity < 1 || r.quantity > MAX_SEATS_PER_BUYER) throw new Error(`a hold batch takes 1..${MAX_SEATS_PER_BUYER} seats per request`);
  }
  return sql.transaction(async (tx) => {
    const results: Array<HoldOutcome | undefined> = requests.map(() => undefined);
    const buyers = [...new Set(requests.map((r) => r.hold.buyerId))].sort();
    const locked = await tx.query<{ buyer_id: string; seats: number }>(
      `SELECT buyer_id, seats FROM inventory.buyer_usage WHERE event_id = $1 AND buyer_id = ANY($2::text[]) ORDER BY buyer_id FOR UPDATE`,
      [eventId, buyers],
    );
    const usage = new Map<string, number>(buyers.map((b) => [b, 0]));
    for (const row of locked.rows) usage.set(row.buyer_id, Number(row.seats));

    // Seats to ask for: every request that passes its limit were all of them served (an upper bound).
    const tentative = new Map(usage);
    let demand = 0;
    for (const r of requests) {
      const used = tentative.get(r.hold.buyerId)!;
      if (used + r.quantity > MAX_SEATS_PER_BUYER) continue;
      tentative.set(r.hold.buyerId, used + r.quantity);
      demand += r.quantity;
    }
    const picked =
      demand === 0
        ? []
        : (
            await tx.query<PickedSeat>(
              `SELECT s.id, s.section_id, s.slot, s.row, s.number
               FROM (SELECT c.section_id, c.slot FROM inventory.section_counters c
                     JOIN inventory.event_seating e ON e.event_id = c.event_id AND e.status = 'on_sale'
                     WHERE c.event_id = $1 AND c.available > 0
                     ORDER BY c.price_cents, c.position, random() FOR UPDATE OF c SKIP LOCKED) AS c
               CROSS JOIN LATERAL (
                 SELECT id, section_id, slot, row, number FROM inventory.seats
                 WHERE event_id = $1 AND section_id = c.section_id AND slot = c.slot AND status = 'available'
                 ORDER BY row, number LIMIT $2 FOR UPDATE SKIP LOCKED) AS s
               LIMIT $2`,
              [eventId, demand + PICK_WINDOW],
            )
          ).rows;
    // One pool per sub-counter, in the order the counters were locked (best first).
    const pools: PickedSeat[][] = [];
    const poolOf = new Map<string, PickedSeat[]>();
    for (const seat of picked) {
      const key = `${seat.section_id}/${seat.slot}`;
      let pool = poolOf.get(key);
      if (!pool) {
        poolOf.set(key, (pool = []));
        pools.push(pool);
      }
      pool.push({ ...seat, row: Number(seat.row), number: Number(seat.number), slot: Number(seat.slot) });
    }
    for (const pool of pools) pool.sort((a, b) => a.row - b.row || a.number - b.number);

    // Arrival order decides: a buyer's second request sees the seats of their first.
    const running = new Map(usage);
    const served: Array<{ index: number; seats: PickedSeat[] }> = [];
    for (const [index, r] of requests.entries()) {
      const used = running.get(r.hold.buyerId)!;
      if (used + r.quantity > MAX_SEATS_PER_BUYER) {
        results[index] = { ok: false, reason: "LIMIT_EXCEEDED", held: used };
        continue;
      }
      const seats = takeFromPools(pools, r.quantity);
      if (!seats) continue; // the one-request path decides (SOLD_OUT, a busy counter, not on sale)
      running.set(r.hold.buyerId, used + r.quantity);
      served.push({ index, seats });
    }
    if (served.length === 0) return results;

    const seatIds: string[] = [];
    const seatHolds: string[] = [];
    for (const s of served) {
      for (const seat of s.seats) {
        seatIds.push(seat.id);
        seatHolds.push(requests[s.index].hold.holdId);
      }
    }
    const added = new Map<string, number>();
    for (const s of served) {
      const buyer = requests[s.index].hold.buyerId;
      added.set(buyer, (added.get(buyer) ?? 0) + s.seats.length);
    }
    const taken = await tx.query<HeldSeatRow & { holdId: string; counters: number; wanted: number; holds: number; buyers: number }>(
      `WITH assigned AS (SELECT * FROM unnest($1::text[], $2::text[]) AS a(seat_id, hold_id)),
       taken AS (
         UPDATE inventory.seats s SET status = 'held', hold_id = a.hold_id FROM assigned a
         WHERE s.id = a.seat_id AND s.status = 'available'
         RETURNING s.id, s.hold_id, s.section_id, s.slot, s.row, s.number, s.price_cents),
       per_counter AS (SELECT section_id, slot, count(*)::int AS k FROM taken GROUP BY section_id, slot),
       counted AS (
         UPDATE inventory.section_counters c SET available = c.available - p.k
         FROM per_counter p
         WHERE c.event_id = $3 AND c.section_id = p.section_id AND c.slot = p.slot AND c.available >= p.k
         RETURNING c.slot),
       recorded AS (
         INSERT INTO inventory.holds (id, event_id, logical_shard, buyer_id, status, seat_ids, total_cents, expires_at, created_at)
         SELECT h.id, $3, $4, h.buyer_id, 'active', array_agg(t.id ORDER BY t.id), sum(t.price_cents), h.expires_at, clock_timestamp()
         FROM taken t JOIN unnest($5::text[], $6::text[], $7::timestamptz[]) AS h(id, buyer_id, expires_at) ON h.id = t.hold_id
         GROUP BY h.id, h.buyer_id, h.expires_at
         RETURNING id),
       used AS (
         INSERT INTO inventory.buyer_usage (event_id, buyer_id, logical_shard, seats)
         SELECT $3, u.buyer_id, $4, u.seats FROM unnest($8::text[], $9::int[]) AS u(buyer_id, seats)
         ON CONFLICT (event_id, buyer_id) DO UPDATE SET seats = buyer_usage.seats + EXCLUDED.seats
           WHERE buyer_usage.seats + EXCLUDED.seats <= ${MAX_SEATS_PER_BUYER}
         RETURNING buyer_id)
       SELECT t.id, t.hold_id AS "holdId", t.section_id AS "sectionId", sec.name AS section, t.row, t.number, t.price_cents AS "priceCents",
              (SELECT count(*) FROM counted)::int AS counters, (SELECT count(*) FROM per_counter)::int AS wanted,
              (SELECT count(*) FROM recorded)::int AS holds, (SELECT count(*) FROM used)::int AS buyers
       FROM taken t JOIN inventory.sections sec ON sec.id = t.section_id
       ORDER BY sec.position, t.row, t.number`,
      [
        seatIds,
        seatHolds,
        eventId,
        logicalShard,
        served.map((s) => requests[s.index].hold.holdId),
        served.map((s) => requests[s.index].hold.buyerId),
        served.map((s) => requests[s.index].hold.expiresAt.toISOString()),
        [...added.keys()],
        [...added.values()],
      ],
    );
    // We hold the row locks of every seat and counter, so anything short of all of them is a broken invariant.
    if (taken.rows.length !== seatIds.length) throw new Error(`hold batch of event ${eventId}: ${taken.rows.length} of ${seatIds.length} locked seats were available`);
    const first = taken.rows[0];
    if (first.counters !== first.wanted) throw new Error(`hold batch of event ${eventId}: a sub-counter had fewer seats than it counted`);
    if (first.holds !== served.length) throw new Error(`hold batch of event ${eventId}: ${first.holds} of ${served.length} holds recorded`);
    // A buyer's usage row appeared after our lock (their first hold, committed meanwhile) and the
    // sum went over the limit: nothing of this batch may stand.
    if (first.buyers !== added.size) throw new BatchUsageConflict();

    const byHold = new Map<string, HeldSeatRow[]>();
    for (const s of taken.rows) {
      const list = byHold.get(s.holdId) ?? [];
      list.push({ id: s.id, sectionId: s.sectionId, section: s.section, row: Number(s.row), number: Number(s.number), priceCents: Number(s.priceCents) });
      byHold.set(s.holdId, list);
    }
    for (const s of served) {
      const { hold } = requests[s.index];
      const seats = byHold.get(hold.holdId) ?? [];
      const record: HoldRecord = {
        id: hold.holdId,
        eventId,
        buyerId: hold.buyerId,
        seats,
        totalCents: seats.reduce((sum, seat) => sum + seat.priceCents, 0),
        expiresAt: hold.expiresAt.toISOString(),
      };
      results[s.index] = { ok: true, hold: record };
    }
    return results;
  });
}
