// The money-and-seats invariants of a checkout run, read straight from both services' tables:
// every captured payment ends confirmed or refunded (never neither, never both), no seat is sold
// twice, and captured minus refunded equals the total of confirmed orders.
import { expect } from "vitest";
import type { CheckoutFixture } from "./checkout-fixture.ts";

interface PaymentRow {
  id: string;
  status: string;
  amount_cents: number;
  hold_id: string | null;
}

export async function expectCheckoutInvariants(f: CheckoutFixture, eventIds: string[]): Promise<{ sold: number; refunded: number }> {
  const payments = (
    await f.queryAll<PaymentRow>(`SELECT id, status, amount_cents, reference->>'holdId' AS hold_id FROM payments.payments WHERE reference->>'eventId' = ANY($1::text[])`, [eventIds])
  ).map((p) => ({ ...p, amount_cents: Number(p.amount_cents) }));
  const refunds = await f.queryAll<{ payment_id: string; amount_cents: number }>(`SELECT payment_id, amount_cents FROM payments.refunds`);
  const orders = await f.queryAll<{ id: string; payment_id: string; status: string; total_cents: number; hold_id: string }>(
    `SELECT id, payment_id, status, total_cents, hold_id FROM inventory.orders WHERE event_id = ANY($1::text[])`,
    [eventIds],
  );
  const tickets = await f.queryAll<{ seat_id: string; order_id: string }>(`SELECT seat_id, order_id FROM inventory.tickets WHERE event_id = ANY($1::text[]) AND voided_at IS NULL`, [eventIds]);
  const soldSeats = await f.queryAll<{ id: string; order_id: string }>(`SELECT id, order_id FROM inventory.seats WHERE event_id = ANY($1::text[]) AND status = 'sold'`, [eventIds]);

  const refundedIds = new Set(refunds.map((r) => r.payment_id));
  const confirmed = orders.filter((o) => o.status === "confirmed");
  const confirmedPaymentIds = new Set(confirmed.map((o) => o.payment_id));

  // Every captured payment is confirmed or refunded, never neither, never both.
  for (const p of payments) {
    const isConfirmed = confirmedPaymentIds.has(p.id);
    const isRefunded = refundedIds.has(p.id);
    expect(isConfirmed !== isRefunded, `payment ${p.id}: confirmed=${isConfirmed} refunded=${isRefunded}`).toBe(true);
    expect(p.status).toBe(isRefunded ? "refunded" : "captured");
  }
  // Every confirmed order is paid by exactly one captured, unrefunded payment.
  const paymentById = new Map(payments.map((p) => [p.id, p]));
  for (const o of confirmed) {
    expect(paymentById.get(o.payment_id)?.status, `order ${o.id} paid by ${o.payment_id}`).toBe("captured");
  }
  expect(confirmedPaymentIds.size).toBe(confirmed.length);
  // No seat in two orders; every sold seat has exactly one ticket, in a confirmed order.
  expect(new Set(tickets.map((t) => t.seat_id)).size).toBe(tickets.length);
  expect(tickets.length).toBe(soldSeats.length);
  const confirmedIds = new Set(confirmed.map((o) => o.id));
  expect(soldSeats.every((s) => confirmedIds.has(s.order_id))).toBe(true);
  // Money: captured − refunded = confirmed orders.
  const captured = payments.reduce((sum, p) => sum + p.amount_cents, 0);
  const refunded = payments.filter((p) => refundedIds.has(p.id)).reduce((sum, p) => sum + p.amount_cents, 0);
  const confirmedTotal = confirmed.reduce((sum, o) => sum + Number(o.total_cents), 0);
  expect(captured - refunded).toBe(confirmedTotal);
  return { sold: soldSeats.length, refunded: refundedIds.size };
}

/** True once every captured payment of the events is confirmed or refunded (the recovery consumer caught up). */
export async function settled(f: CheckoutFixture, eventIds: string[]): Promise<boolean> {
  // Payments live on the buyer's shard and orders on the event's: compare in memory, not in a join.
  const captured = await f.queryAll<{ id: string }>(
    `SELECT id FROM payments.payments WHERE reference->>'eventId' = ANY($1::text[]) AND status = 'captured'`,
    [eventIds],
  );
  const confirmed = new Set(
    (await f.queryAll<{ payment_id: string }>(`SELECT payment_id FROM inventory.orders WHERE event_id = ANY($1::text[]) AND status = 'confirmed'`, [eventIds])).map(
      (o) => o.payment_id,
    ),
  );
  return captured.every((p) => confirmed.has(p.id));
}
