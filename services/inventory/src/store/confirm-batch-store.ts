// Group commit of confirmations: the usual confirmations (an active hold paid its amount, nothing
// decided yet, not from the firehose) of one logical shard that queued together are done by one
// transaction of five statements: lock the holds (by id), read their payments' decisions and their
// orders, then sell the seats, insert the orders, confirm the holds, insert the tickets and record the
// outcomes in one statement. Anything else (a hold not found, expired, already paid or decided, an
// amount that differs, a firehose event to record) is left undecided for the caller to run alone on
// the one-confirmation path (confirmHold), which gives today's answer.
import type { ConfirmInput, ConfirmOutcome, OrderRecord, TicketRow } from "./order-store.ts";
import type { Sql } from "./sql.ts";
import { toIso } from "./sql.ts";

interface HoldRow {
  id: string;
  event_id: string;
  logical_shard: number;
  buyer_id: string;
  status: string;
  seat_ids: string[];
  total_cents: number;
}

/**
 * Confirms the usual ones of these payments in one transaction; one entry per input, in order: the
 * outcome, or undefined when the one-confirmation path must decide it. Every hold id and payment id
 * must appear once.
 */
export async function confirmHoldBatch(sql: Sql, inputs: ConfirmInput[]): Promise<Array<ConfirmOutcome | undefined>> {
  if (new Set(inputs.map((i) => i.holdId)).size !== inputs.length || new Set(inputs.map((i) => i.paymentId)).size !== inputs.length) {
    throw new Error("a confirmation batch names each hold and each payment once");
  }
  return sql.transaction(async (tx) => {
    const results: Array<ConfirmOutcome | undefined> = inputs.map(() => undefined);
    const holdIds = inputs.map((i) => i.holdId);
    const holds = new Map(
      (await tx.query<HoldRow>(`SELECT * FROM inventory.holds WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`, [holdIds])).rows.map((h) => [h.id, h]),
    );
    // After the locks, in a statement of its own (a fresh snapshot): decisions and orders.
    const prior = new Map(
      (
        await tx.query<{ hold_id: string; outcome: string | null; existing: string | null }>(
          `SELECT p.hold_id, d.outcome, (SELECT o.id FROM inventory.orders o WHERE o.hold_id = p.hold_id) AS existing
           FROM unnest($1::text[], $2::text[]) AS p(hold_id, payment_id) LEFT JOIN inventory.payment_outcomes d ON d.payment_id = p.payment_id`,
          [holdIds, inputs.map((i) => i.paymentId)],
        )
      ).rows.map((r) => [r.hold_id, r]),
    );
    const usual: Array<{ index: number; hold: HoldRow; input: ConfirmInput; orderId: string }> = [];
    for (const [index, input] of inputs.entries()) {
      const hold = holds.get(input.holdId);
      const before = prior.get(input.holdId);
      if (!hold || !before || input.eventId !== undefined) continue;
      if (before.outcome !== null || before.existing !== null) continue;
      if (hold.status !== "active" || Number(hold.total_cents) !== input.amountCents) continue;
      usual.push({ index, hold, input, orderId: input.newOrderId(hold.id) });
    }
    if (usual.length === 0) return results;

    const tickets: Array<{ id: string; orderId: string; eventId: string; logicalShard: number; seatId: string; code: string }> = [];
    for (const u of usual) {
      for (const seatId of u.hold.seat_ids) {
        tickets.push({ id: u.input.newTicketId(u.hold.id), orderId: u.orderId, eventId: u.hold.event_id, logicalShard: u.hold.logical_shard, seatId, code: u.input.newTicketCode() });
      }
    }
    const rows = (
      await tx.query<TicketRow & { orderId: string; createdAt: Date | string }>(
        `WITH m AS (SELECT * FROM unnest($1::text[], $2::text[]) AS m(hold_id, order_id)),
         sold AS (
           UPDATE inventory.seats s SET status = 'sold', order_id = m.order_id FROM m
           WHERE s.hold_id = m.hold_id AND s.status = 'held'
           RETURNING s.id, s.section_id, s.row, s.number, m.order_id),
         ordered AS (
           -- Milliseconds only, so the listing cursor (an ISO time) compares exactly.
           INSERT INTO inventory.orders (id, event_id, logical_shard, buyer_id, hold_id, payment_id, status, total_cents, created_at)
           SELECT o.id, o.event_id, o.logical_shard, o.buyer_id, o.hold_id, o.payment_id, 'confirmed', o.total_cents, date_trunc('milliseconds', clock_timestamp())
           FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $1::text[], $6::text[], $7::int[])
             AS o(id, event_id, logical_shard, buyer_id, hold_id, payment_id, total_cents)
           RETURNING id, created_at),
         confirmed AS (UPDATE inventory.holds SET status = 'confirmed' WHERE id = ANY($1::text[]) RETURNING id),
         ticketed AS (
           INSERT INTO inventory.tickets (id, order_id, event_id, logical_shard, seat_id, code)
           SELECT * FROM unnest($8::text[], $9::text[], $10::text[], $11::int[], $12::text[], $13::text[])
           RETURNING id, order_id, seat_id, code),
         decided AS (
           INSERT INTO inventory.payment_outcomes (payment_id, hold_id, event_id, logical_shard, buyer_id, amount_cents, outcome, order_id)
           SELECT d.payment_id, d.hold_id, d.event_id, d.logical_shard, d.buyer_id, d.amount_cents, 'confirmed', d.order_id
           FROM unnest($6::text[], $1::text[], $3::text[], $4::int[], $5::text[], $7::int[], $2::text[])
             AS d(payment_id, hold_id, event_id, logical_shard, buyer_id, amount_cents, order_id)
           RETURNING payment_id)
         SELECT t.id, t.order_id AS "orderId", t.seat_id AS "seatId", t.code, sec.name AS section, s.row, s.number, o.created_at AS "createdAt"
         FROM ticketed t JOIN sold s ON s.id = t.seat_id AND s.order_id = t.order_id
           JOIN ordered o ON o.id = t.order_id JOIN inventory.sections sec ON sec.id = s.section_id
         ORDER BY t.order_id, sec.position, s.row, s.number`,
        [
          usual.map((u) => u.hold.id),
          usual.map((u) => u.orderId),
          usual.map((u) => u.hold.event_id),
          usual.map((u) => u.hold.logical_shard),
          usual.map((u) => u.hold.buyer_id),
          usual.map((u) => u.input.paymentId),
          usual.map((u) => u.input.amountCents),
          tickets.map((t) => t.id),
          tickets.map((t) => t.orderId),
          tickets.map((t) => t.eventId),
          tickets.map((t) => t.logicalShard),
          tickets.map((t) => t.seatId),
          tickets.map((t) => t.code),
        ],
      )
    ).rows;
    // Every ticket joined to its sold seat, or the batch stands for nothing (rolled back).
    if (rows.length !== tickets.length) throw new Error(`confirmation batch: ${rows.length} of ${tickets.length} seats were the holds' own`);
    const byOrder = new Map<string, typeof rows>();
    for (const r of rows) {
      const list = byOrder.get(r.orderId) ?? [];
      list.push(r);
      byOrder.set(r.orderId, list);
    }
    for (const u of usual) {
      const own = byOrder.get(u.orderId) ?? [];
      if (own.length !== u.hold.seat_ids.length) throw new Error(`hold ${u.hold.id} owns ${own.length} of its ${u.hold.seat_ids.length} seats`);
      const order: OrderRecord = {
        id: u.orderId,
        status: "confirmed",
        eventId: u.hold.event_id,
        holdId: u.hold.id,
        buyerId: u.hold.buyer_id,
        paymentId: u.input.paymentId,
        tickets: own.map((t) => ({ id: t.id, seatId: t.seatId, code: t.code, section: t.section, row: Number(t.row), number: Number(t.number) })),
        totalCents: u.input.amountCents,
        createdAt: toIso(own[0].createdAt),
      };
      results[u.index] = { kind: "confirmed", order, seatsRetaken: false };
    }
    return results;
  });
}
