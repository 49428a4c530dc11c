// payment.refunded.v1 voids what the payment bought: the order shows refunded, its tickets no
// longer count, and while the event is on sale its seats can be bought again.
import {
  inventoryAvailabilityV1,
  inventoryGetOrderV1,
  inventoryHoldV1,
  inventoryOrderV1,
  PAYMENTS_STREAM,
  paymentRefundedV1,
  paymentsListV1,
  paymentsRefundV1,
} from "@boxoffice/contracts";
import { createLogger } from "@boxoffice/runtime";
import { requirePostgres, requireRedis, waitFor } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCheckoutFixture, type CheckoutFixture, type Target } from "./support/checkout-fixture.ts";
import { expectCheckoutInvariants } from "./support/invariants.ts";

const redis = await requireRedis();
const postgres = await requirePostgres();
// The Redis + Postgres variant is always declared: without those services it shows as skipped, never vanishes.
const targets: Target[] = ["memory", "redis"];
const missing = (target: Target) => target === "redis" && !(redis.available && postgres.available);

const CARD = { cardNumber: "4242424242424242", expMonth: 12, expYear: 2030, cvc: "123" };

for (const target of targets) describe.skipIf(missing(target))(`refunds (${target})`, () => {
  let f: CheckoutFixture;
  const eventIds: string[] = [];
  // What inventory logs, to see when it has dealt with a firehose event that changes nothing.
  const logLines: string[] = [];
  beforeAll(async () => {
    f = await createCheckoutFixture(target, {
      inventoryLogger: createLogger({ service: "inventory", level: "warn", destination: { write: (line) => void logLines.push(line) } }),
    });
  });
  afterAll(async () => {
    await f?.close();
  });

  it("when someone appends a payment.refunded.v1 for a payment nobody refunded, the order stays confirmed with its tickets", async () => {
    const event = await f.createEvent([{ name: "Stalls", rows: 1, seatsPerRow: 2, priceCents: 2500 }]);
    const buyer = await f.tokenFor("forged-refund-buyer");
    const { hold } = await f.rpc.call(inventoryHoldV1, { eventId: event.id, quantity: 2 }, { token: buyer });
    const { order } = await f.rpc.call(inventoryOrderV1, { holdId: hold.id, idempotencyKey: "buy", payment: CARD }, { token: buyer });
    await f.firehose.publish(PAYMENTS_STREAM, {
      type: paymentRefundedV1.type,
      version: paymentRefundedV1.version,
      key: "forged-refund-buyer",
      id: `forged-refund:${order.paymentId}`,
      data: { paymentId: order.paymentId, buyerId: "forged-refund-buyer", refundId: order.paymentId, amountCents: order.totalCents, reference: { holdId: hold.id, eventId: event.id } },
    });
    const current = async () => (await f.rpc.call(inventoryGetOrderV1, { orderId: order.id }, { token: buyer })).order;
    // Either outcome ends the wait: the forged event ignored (logged) or the order voided by it.
    await waitFor(async () => logLines.some((line) => line.includes(order.paymentId)) || (await current()).status === "refunded", {
      what: "inventory to deal with the forged payment.refunded.v1",
    });
    const after = await current();
    expect(`${after.status} with ${after.tickets.length} tickets`).toBe("confirmed with 2 tickets");
    expect((await f.rpc.call(inventoryAvailabilityV1, { eventId: event.id })).available).toBe(0);
  });

  it("when a buyer's payment is refunded, the order shows refunded with no tickets, the seats are on sale again and someone else can buy them", async () => {
    const event = await f.createEvent([{ name: "Stalls", rows: 1, seatsPerRow: 2, priceCents: 2500 }]);
    eventIds.push(event.id);
    const buyer = await f.tokenFor("refund-buyer");
    const { hold } = await f.rpc.call(inventoryHoldV1, { eventId: event.id, quantity: 2 }, { token: buyer });
    const { order } = await f.rpc.call(inventoryOrderV1, { holdId: hold.id, idempotencyKey: "buy", payment: CARD }, { token: buyer });
    expect(order.tickets).toHaveLength(2);
    expect((await f.rpc.call(inventoryAvailabilityV1, { eventId: event.id })).available).toBe(0);

    await f.rpc.call(paymentsRefundV1, { paymentId: order.paymentId, idempotencyKey: "changed-my-mind" }, { token: buyer, waitForCapacity: true });
    const refunded = await waitFor(
      async () => {
        const current = (await f.rpc.call(inventoryGetOrderV1, { orderId: order.id }, { token: buyer })).order;
        return current.status === "refunded" ? current : undefined;
      },
      { what: "the order refunded after payment.refunded.v1" },
    );
    expect(refunded.tickets).toEqual([]);
    const voided = await f.queryAll<{ voided_at: unknown }>(`SELECT voided_at FROM inventory.tickets WHERE order_id = $1`, [order.id]);
    expect(voided).toHaveLength(2);
    expect(voided.every((t) => t.voided_at !== null)).toBe(true);
    await waitFor(async () => (await f.rpc.call(inventoryAvailabilityV1, { eventId: event.id })).available === 2, { what: "the seats back on sale" });

    const other = await f.tokenFor("refund-other");
    const again = await f.rpc.call(inventoryHoldV1, { eventId: event.id, seatIds: order.tickets.map((t) => t.seatId) }, { token: other });
    const second = await f.rpc.call(inventoryOrderV1, { holdId: again.hold.id, idempotencyKey: "buy", payment: CARD }, { token: other });
    expect(second.order.tickets.map((t) => t.seatId).sort()).toEqual(order.tickets.map((t) => t.seatId).sort());
    expect((await f.rpc.call(paymentsListV1, {}, { token: buyer })).payments[0]?.status).toBe("refunded");
    const result = await expectCheckoutInvariants(f, eventIds);
    expect(result).toEqual({ sold: 2, refunded: 1 });
  });
});
