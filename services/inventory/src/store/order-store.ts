// Orders and tickets: confirming a paid hold exactly once, and reading a buyer's orders.
import type { Sql } from "./sql.ts";
import { toIso } from "./sql.ts";

export interface TicketRow {
  id: string;
  seatId: string;
  code: string;
  section: string;
  row: number;
  number: number;
}

export interface OrderRecord {
  id: string;
  status: "confirmed" | "refunded";
  eventId: string;
  holdId: string;
  buyerId: string;
  paymentId: string;
  tickets: TicketRow[];
  totalCents: number;
  createdAt: string;
}

export interface ConfirmInput {
  holdId: string;
  paymentId: string;
  amountCents: number;
  /** The firehose event that brought the payment (recorded as processed), if any. */
  eventId?: string;
  newOrderId: (holdId: string) => string;
  newTicketId: (holdId: string) => string;
  newTicketCode: () => string;
}

/**
 * What became of a captured payment: `confirmed` into `order`; `refund` when it cannot be confirmed
 * (the hold's seats went to someone else, or the hold was already paid by another payment).
 * `seatsRetaken` tells the caller availability changed (an expired hold's seats were taken back).
 */
export type ConfirmOutcome =
  | { kind: "confirmed"; order: OrderRecord; seatsRetaken: boolean }
  | { kind: "refund"; order?: OrderRecord; buyerId: string; eventId: string; reason: string }
  | { kind: "unknown-hold" };

interface HoldRow {
  id: string;
  event_id: string;
  logical_shard: number;
  buyer_id: string;
  status: string;
  seat_ids: string[];
  total_cents: number;
}

interface OrderRow {
  id: string;
  event_id: string;
  hold_id: string;
  buyer_id: string;
  payment_id: string;
  status: "confirmed" | "refunded";
  total_cents: number;
  created_at: Date | string;
}

async function loadTickets(sql: Sql, orderIds: string[]): Promise<Map<string, TicketRow[]>> {
  const byOrder = new Map<string, TicketRow[]>();
  if (orderIds.length === 0) return byOrder;
  const tickets = await sql.query<TicketRow & { orderId: string }>(
    `SELECT t.id, t.order_id AS "orderId", t.seat_id AS "seatId", t.code, sec.name AS section, s.row, s.number
     FROM inventory.tickets t JOIN inventory.seats s ON s.id = t.seat_id JOIN inventory.sections sec ON sec.id = s.section_id
     WHERE t.order_id = ANY($1::text[]) AND t.voided_at IS NULL ORDER BY sec.position, s.row, s.number`,
    [orderIds],
  );
  for (const t of tickets.rows) {
    const list = byOrder.get(t.orderId) ?? [];
    list.push({ id: t.id, seatId: t.seatId, code: t.code, section: t.section, row: Number(t.row), number: Number(t.number) });
    byOrder.set(t.orderId, list);
  }
  return byOrder;
}

function toOrder(row: OrderRow, tickets: TicketRow[]): OrderRecord {
  return {
    id: row.id,
    status: row.status,
    eventId: row.event_id,
    holdId: row.hold_id,
    buyerId: row.buyer_id,
    paymentId: row.payment_id,
    tickets,
    totalCents: Number(row.total_cents),
    createdAt: toIso(row.created_at),
  };
}

async function orderById(sql: Sql, orderId: string): Promise<OrderRecord | undefined> {
  const row = (await sql.query<OrderRow>(`SELECT * FROM inventory.orders WHERE id = $1`, [orderId])).rows[0];
  if (!row) return undefined;
  return toOrder(row, (await loadTickets(sql, [row.id])).get(row.id) ?? []);
}

/** Reads one order; undefined when missing or not the buyer's. */
export async function readOrder(sql: Sql, orderId: string, buyerId: string): Promise<OrderRecord | undefined> {
  const order = await orderById(sql, orderId);
  return order && order.buyerId === buyerId ? order : undefined;
}

/** The order of a hold, if it has one. */
export async function readOrderOfHold(sql: Sql, holdId: string): Promise<OrderRecord | undefined> {
  const row = (await sql.query<OrderRow>(`SELECT * FROM inventory.orders WHERE hold_id = $1`, [holdId])).rows[0];
  if (!row) return undefined;
  return toOrder(row, (await loadTickets(sql, [row.id])).get(row.id) ?? []);
}

/** One page of a buyer's orders on one shard, newest first, strictly before the cursor position. */
export async function listOrders(sql: Sql, buyerId: string, limit: number, before?: { createdAt: string; id: string }): Promise<OrderRecord[]> {
  const params: unknown[] = [buyerId, limit];
  let where = "";
  if (before) {
    params.push(before.createdAt, before.id);
    where = `AND (created_at, id) < ($3::timestamptz, $4::text)`;
  }
  const rows = await sql.query<OrderRow>(`SELECT * FROM inventory.orders WHERE buyer_id = $1 ${where} ORDER BY created_at DESC, id DESC LIMIT $2`, params);
  const tickets = await loadTickets(sql, rows.rows.map((r) => r.id));
  return rows.rows.map((r) => toOrder(r, tickets.get(r.id) ?? []));
}

export interface PaymentOutcomeRecord {
  outcome: "confirmed" | "refund";
  holdId: string;
  buyerId: string;
  orderId: string | null;
}

/** The decisions recorded for these payments, by payment id (no lock: a decision is written once, with its effect). */
export async function readPaymentOutcomes(sql: Sql, paymentIds: string[]): Promise<Map<string, PaymentOutcomeRecord>> {
  const rows = await sql.query<{ payment_id: string; outcome: "confirmed" | "refund"; hold_id: string; buyer_id: string; order_id: string | null }>(
    `SELECT payment_id, outcome, hold_id, buyer_id, order_id FROM inventory.payment_outcomes WHERE payment_id = ANY($1::text[])`,
    [paymentIds],
  );
  return new Map(rows.rows.map((r) => [r.payment_id, { outcome: r.outcome, holdId: r.hold_id, buyerId: r.buyer_id, orderId: r.order_id }]));
}

/**
 * Confirms the hold paid by `paymentId`, exactly once: the hold row lock serialises the checkout
 * and the recovery consumer, and the payment's outcome row records the decision with its effect.
 */
export async function confirmHold(sql: Sql, input: ConfirmInput): Promise<ConfirmOutcome> {
  return sql.transaction(async (tx): Promise<ConfirmOutcome> => {
    const hold = (await tx.query<HoldRow>(`SELECT * FROM inventory.holds WHERE id = $1 FOR UPDATE`, [input.holdId])).rows[0];
    if (!hold) return { kind: "unknown-hold" };
    if (input.eventId) {
      await tx.query(`INSERT INTO inventory.processed_events (id, logical_shard) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [input.eventId, hold.logical_shard]);
    }
    // After the lock, in a statement of its own (a fresh snapshot: whoever held the lock before us
    // has committed its decision and its order): the payment's decision and the hold's order, in one read.
    const prior = (
      await tx.query<{ outcome: string | null; order_id: string | null; existing: string | null }>(
        `SELECT d.outcome, d.order_id, (SELECT o.id FROM inventory.orders o WHERE o.hold_id = $2) AS existing
         FROM (SELECT 1) AS one LEFT JOIN inventory.payment_outcomes d ON d.payment_id = $1`,
        [input.paymentId, input.holdId],
      )
    ).rows[0];
    const decided = prior.outcome === null ? undefined : { outcome: prior.outcome, order_id: prior.order_id };
    if (decided) {
      const order = decided.order_id ? await orderById(tx, decided.order_id) : undefined;
      if (decided.outcome === "confirmed" && order) return { kind: "confirmed", order, seatsRetaken: false };
      return { kind: "refund", order, buyerId: hold.buyer_id, eventId: hold.event_id, reason: "already decided" };
    }
    const recordOutcome = (outcome: "confirmed" | "refund", orderId: string | null) =>
      tx.query(
        `INSERT INTO inventory.payment_outcomes (payment_id, hold_id, event_id, logical_shard, buyer_id, amount_cents, outcome, order_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [input.paymentId, hold.id, hold.event_id, hold.logical_shard, hold.buyer_id, input.amountCents, outcome, orderId],
      );

    if (prior.existing !== null) {
      // The hold was already paid by another payment: this one is a duplicate and goes back.
      await recordOutcome("refund", null);
      return { kind: "refund", buyerId: hold.buyer_id, eventId: hold.event_id, reason: "hold already paid" };
    }

    const orderId = input.newOrderId(hold.id);
    let seatsRetaken = false;
    let confirmable = Number(hold.total_cents) === input.amountCents;
    if (confirmable && hold.status === "active") return confirmActiveHold(tx, hold, orderId, input);
    if (confirmable) {
      // The hold ran out (or was released) before confirmation: the payment still buys the same
      // seats if nobody else took them in between.
      const seats = await tx.query<{ id: string; section_id: string; slot: number; status: string }>(
        `SELECT id, section_id, slot, status FROM inventory.seats WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`,
        [hold.seat_ids],
      );
      confirmable = seats.rows.length === hold.seat_ids.length && seats.rows.every((s) => s.status === "available");
      if (confirmable) {
        await tx.query(`UPDATE inventory.seats SET status = 'sold', order_id = $2, hold_id = $3 WHERE id = ANY($1::text[])`, [hold.seat_ids, orderId, hold.id]);
        const perCounter = new Map<string, { sectionId: string; slot: number; count: number }>();
        for (const s of seats.rows) {
          const key = `${s.section_id}/${s.slot}`;
          const entry = perCounter.get(key) ?? { sectionId: s.section_id, slot: Number(s.slot), count: 0 };
          entry.count++;
          perCounter.set(key, entry);
        }
        const ordered = [...perCounter.values()].sort((a, b) => (a.sectionId === b.sectionId ? a.slot - b.slot : a.sectionId < b.sectionId ? -1 : 1));
        for (const c of ordered) {
          const counted = await tx.query(
            `UPDATE inventory.section_counters SET available = available - $4 WHERE event_id = $1 AND section_id = $2 AND slot = $3 AND available >= $4`,
            [hold.event_id, c.sectionId, c.slot, c.count],
          );
          if (counted.rowCount !== 1) throw new Error(`counter ${c.sectionId}/${c.slot} has fewer than ${c.count} seats`);
        }
        await tx.query(
          `INSERT INTO inventory.buyer_usage (event_id, buyer_id, logical_shard, seats) VALUES ($1, $2, $3, $4)
           ON CONFLICT (event_id, buyer_id) DO UPDATE SET seats = buyer_usage.seats + EXCLUDED.seats`,
          [hold.event_id, hold.buyer_id, hold.logical_shard, hold.seat_ids.length],
        );
        seatsRetaken = true;
      }
    }

    await tx.query(
      // Milliseconds only, so the listing cursor (an ISO time) compares exactly.
      `INSERT INTO inventory.orders (id, event_id, logical_shard, buyer_id, hold_id, payment_id, status, total_cents, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, date_trunc('milliseconds', clock_timestamp()))`,
      [orderId, hold.event_id, hold.logical_shard, hold.buyer_id, hold.id, input.paymentId, confirmable ? "confirmed" : "refunded", input.amountCents],
    );
    if (!confirmable) {
      await recordOutcome("refund", orderId);
      const order = await orderById(tx, orderId);
      return { kind: "refund", order, buyerId: hold.buyer_id, eventId: hold.event_id, reason: "seats no longer available" };
    }
    await tx.query(`UPDATE inventory.holds SET status = 'confirmed' WHERE id = $1`, [hold.id]);
    const ticketIds = hold.seat_ids.map(() => input.newTicketId(hold.id));
    const codes = hold.seat_ids.map(() => input.newTicketCode());
    await tx.query(
      `INSERT INTO inventory.tickets (id, order_id, event_id, logical_shard, seat_id, code)
       SELECT t.id, $1, $2, $3, t.seat_id, t.code FROM unnest($4::text[], $5::text[], $6::text[]) AS t(id, seat_id, code)`,
      [orderId, hold.event_id, hold.logical_shard, ticketIds, hold.seat_ids, codes],
    );
    await recordOutcome("confirmed", orderId);
    const order = await orderById(tx, orderId);
    if (!order) throw new Error(`order ${orderId} vanished inside its own transaction`);
    return { kind: "confirmed", order, seatsRetaken };
  });
}

/**
 * The usual confirmation (an active hold, paid its amount, nothing decided yet) in one statement:
 * seats sold, the order, the hold confirmed, the tickets and the payment's outcome, returning the
 * tickets as the order shows them. Any seat the hold does not own leaves a ticket without its sold
 * seat, and the whole transaction is refused.
 */
async function confirmActiveHold(tx: Sql, hold: HoldRow, orderId: string, input: ConfirmInput): Promise<ConfirmOutcome> {
  const ticketIds = hold.seat_ids.map(() => input.newTicketId(hold.id));
  const codes = hold.seat_ids.map(() => input.newTicketCode());
  const rows = (
    await tx.query<TicketRow & { createdAt: Date | string }>(
      `WITH sold AS (
         UPDATE inventory.seats SET status = 'sold', order_id = $2 WHERE hold_id = $1 AND status = 'held'
         RETURNING id, section_id, row, number),
       ordered AS (
         -- Milliseconds only, so the listing cursor (an ISO time) compares exactly.
         INSERT INTO inventory.orders (id, event_id, logical_shard, buyer_id, hold_id, payment_id, status, total_cents, created_at)
         VALUES ($2, $3, $4, $5, $1, $6, 'confirmed', $7, date_trunc('milliseconds', clock_timestamp()))
         RETURNING created_at),
       confirmed AS (UPDATE inventory.holds SET status = 'confirmed' WHERE id = $1 RETURNING id),
       ticketed AS (
         INSERT INTO inventory.tickets (id, order_id, event_id, logical_shard, seat_id, code)
         SELECT t.id, $2, $3, $4, t.seat_id, t.code FROM unnest($8::text[], $9::text[], $10::text[]) AS t(id, seat_id, code)
         RETURNING id, seat_id, code),
       decided AS (
         INSERT INTO inventory.payment_outcomes (payment_id, hold_id, event_id, logical_shard, buyer_id, amount_cents, outcome, order_id)
         VALUES ($6, $1, $3, $4, $5, $7, 'confirmed', $2)
         RETURNING payment_id)
       SELECT t.id, t.seat_id AS "seatId", t.code, sec.name AS section, s.row, s.number, (SELECT created_at FROM ordered) AS "createdAt"
       FROM ticketed t JOIN sold s ON s.id = t.seat_id JOIN inventory.sections sec ON sec.id = s.section_id
       ORDER BY sec.position, s.row, s.number`,
      [hold.id, orderId, hold.event_id, hold.logical_shard, hold.buyer_id, input.paymentId, input.amountCents, ticketIds, hold.seat_ids, codes],
    )
  ).rows;
  if (rows.length !== hold.seat_ids.length) throw new Error(`hold ${hold.id} owns ${rows.length} of its ${hold.seat_ids.length} seats`);
  const order: OrderRecord = {
    id: orderId,
    status: "confirmed",
    eventId: hold.event_id,
    holdId: hold.id,
    buyerId: hold.buyer_id,
    paymentId: input.paymentId,
    tickets: rows.map((t) => ({ id: t.id, seatId: t.seatId, code: t.code, section: t.section, row: Number(t.row), number: Number(t.number) })),
    totalCents: input.amountCents,
    createdAt: toIso(rows[0].createdAt),
  };
  return { kind: "confirmed", order, seatsRetaken: false };
}

export type RefundedOrderOutcome = { kind: "voided"; order: OrderRecord; seatsReleased: number } | { kind: "nothing-to-void" };

/**
 * A payment was refunded: its confirmed order becomes refunded and its tickets void, once (the
 * hold row lock serialises it with confirmation). With `releaseSeats`, the seats go back on sale
 * (counters and the buyer's usage follow); otherwise they stay sold to nobody.
 */
export async function voidRefundedOrder(sql: Sql, input: { holdId: string; paymentId: string; releaseSeats: (eventStatus: string) => boolean }): Promise<RefundedOrderOutcome> {
  return sql.transaction(async (tx): Promise<RefundedOrderOutcome> => {
    const hold = (await tx.query<HoldRow>(`SELECT * FROM inventory.holds WHERE id = $1 FOR UPDATE`, [input.holdId])).rows[0];
    if (!hold) return { kind: "nothing-to-void" };
    const row = (
      await tx.query<OrderRow>(`SELECT * FROM inventory.orders WHERE hold_id = $1 AND payment_id = $2 AND status = 'confirmed' FOR UPDATE`, [hold.id, input.paymentId])
    ).rows[0];
    if (!row) return { kind: "nothing-to-void" };
    await tx.query(`UPDATE inventory.orders SET status = 'refunded' WHERE id = $1`, [row.id]);
    await tx.query(`UPDATE inventory.tickets SET voided_at = clock_timestamp() WHERE order_id = $1 AND voided_at IS NULL`, [row.id]);
    const seating = (await tx.query<{ status: string }>(`SELECT status FROM inventory.event_seating WHERE event_id = $1`, [row.event_id])).rows[0];
    let seatsReleased = 0;
    if (seating && input.releaseSeats(seating.status)) {
      const freed = await tx.query<{ section_id: string; slot: number }>(
        `UPDATE inventory.seats SET status = 'available', order_id = NULL, hold_id = NULL WHERE order_id = $1 AND status = 'sold' RETURNING section_id, slot`,
        [row.id],
      );
      seatsReleased = freed.rows.length;
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
          row.event_id,
          c.sectionId,
          c.slot,
          c.count,
        ]);
      }
      await tx.query(`UPDATE inventory.buyer_usage SET seats = greatest(seats - $3, 0) WHERE event_id = $1 AND buyer_id = $2`, [row.event_id, row.buyer_id, seatsReleased]);
    }
    const order = await orderById(tx, row.id);
    if (!order) throw new Error(`order ${row.id} vanished inside its own transaction`);
    return { kind: "voided", order, seatsReleased };
  });
}
