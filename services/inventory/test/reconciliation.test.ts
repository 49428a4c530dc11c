// Reconciliation from the database alone: the payment.captured.v1 events are lost (the payments
// instances publish into nothing, as when Redis restarts empty after acknowledging them), and
// payments' reconciler still drives every captured payment to a confirmed order or a refund.
import type { Firehose, RpcError } from "@boxoffice/bus";
import { inventoryHoldV1, inventoryOrdersV1, inventoryOrderV1, inventorySeatsV1, paymentsChargeV1, paymentsListV1, PAYMENTS_STREAM } from "@boxoffice/contracts";
import { requirePostgres, requireRedis, waitFor } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { paymentKeyFor } from "../src/domain/checkout.ts";
import { createCheckoutFixture, type CheckoutFixture, type Target } from "./support/checkout-fixture.ts";
import { expectCheckoutInvariants } from "./support/invariants.ts";

const redis = await requireRedis();
const postgres = await requirePostgres();
// The Redis + Postgres variant is always declared: without those services it shows as skipped, never vanishes.
const targets: Target[] = ["memory", "redis"];
const missing = (target: Target) => target === "redis" && !(redis.available && postgres.available);

const CARD = { cardNumber: "4242424242424242", expMonth: 12, expYear: 2030, cvc: "123" };
const RECONCILE_AFTER_MS = 300;
const RECONCILE_INTERVAL_MS = 100;

/** A firehose whose payment events vanish after the publish succeeded (lost with Redis). */
function losingPaymentEvents(firehose: Firehose, lost: string[]): Firehose {
  return {
    publish: async (stream, input) => {
      if (stream !== PAYMENTS_STREAM) return firehose.publish(stream, input);
      lost.push(input.id ?? "");
      return { id: input.id ?? "", type: input.type, version: input.version, key: input.key, data: input.data, occurredAt: input.occurredAt ?? new Date().toISOString() };
    },
    subscribe: (stream, options, handler) => firehose.subscribe(stream, options, handler),
    consume: (stream, options, handler) => firehose.consume(stream, options, handler),
    close: async () => {},
  };
}

for (const target of targets) describe.skipIf(missing(target))(`reconciliation from the payments database (${target})`, () => {
  let f: CheckoutFixture;
  const dieAfterCharge = new Set<string>();
  const eventIds: string[] = [];
  const lost: string[] = [];
  beforeAll(async () => {
    f = await createCheckoutFixture(target, {
      reconcileAfterMs: RECONCILE_AFTER_MS,
      reconcileIntervalMs: RECONCILE_INTERVAL_MS,
      paymentsFirehose: (firehose) => losingPaymentEvents(firehose, lost),
      faults: () => ({
        afterCharge: ({ holdId }) => {
          if (dieAfterCharge.has(holdId)) throw new Error("orchestrator died between charge and confirm");
        },
      }),
    });
  });
  afterAll(async () => {
    await f?.close();
  });

  const outcomeOf = async (paymentId: string) =>
    (await f.queryAll<{ outcome: string | null }>(`SELECT outcome FROM payments.payments WHERE id = $1`, [paymentId]))[0]?.outcome ?? null;

  it("when the orchestrator dies after the charge and payment.captured.v1 is lost, the reconciler confirms the order from the payments database", async () => {
    const event = await f.createEvent([{ name: "Stalls", rows: 2, seatsPerRow: 5, priceCents: 1500 }]);
    eventIds.push(event.id);
    const token = await f.tokenFor("rec-1");
    const { hold } = await f.rpc.call(inventoryHoldV1, { eventId: event.id, quantity: 2 }, { token });
    dieAfterCharge.add(hold.id);
    const failed = await f.rpc.call(inventoryOrderV1, { holdId: hold.id, idempotencyKey: "r1", payment: CARD }, { token }).catch((e: unknown) => e);
    expect((failed as RpcError).code).toBe("INTERNAL");
    const [payment] = (await f.rpc.call(paymentsListV1, {}, { token })).payments;
    expect(payment?.status).toBe("captured");
    // The relay publishes after the commit, on its own time: wait for the event that gets lost.
    await waitFor(() => lost.includes(`payment.captured:${payment.id}`), { what: "payments to publish (and lose) payment.captured.v1" });
    // Nothing on the firehose will bring it: only the payments database knows.
    const order = await waitFor(async () => (await f.rpc.call(inventoryOrdersV1, {}, { token })).orders.find((o) => o.holdId === hold.id), {
      what: "the order the reconciler confirms",
    });
    expect(order).toMatchObject({ status: "confirmed", paymentId: payment.id });
    expect(order.tickets).toHaveLength(2);
    await waitFor(async () => (await outcomeOf(payment.id)) === "confirmed", { what: "the payment recorded as settled: confirmed" });
    await expectCheckoutInvariants(f, eventIds);
  });

  it("when a lost capture's seats went to someone else, the reconciler refunds it", async () => {
    const event = await f.createEvent([{ name: "Stalls", rows: 1, seatsPerRow: 2, priceCents: 2000 }]);
    eventIds.push(event.id);
    const late = await f.tokenFor("rec-late");
    const quick = await f.tokenFor("rec-quick");
    const { seats } = await f.rpc.call(inventorySeatsV1, { eventId: event.id });
    const seatIds = seats.map((s) => s.id);
    const { hold } = await f.rpc.call(inventoryHoldV1, { eventId: event.id, seatIds }, { token: late });
    await f.queryAll(`UPDATE inventory.holds SET expires_at = now() - interval '1 second' WHERE id = $1`, [hold.id]);
    await f.inventories[0].sweep();
    const other = await f.rpc.call(inventoryHoldV1, { eventId: event.id, seatIds }, { token: quick });
    await f.rpc.call(inventoryOrderV1, { holdId: other.hold.id, idempotencyKey: "q", payment: CARD }, { token: quick });
    // The dead orchestrator's charge lands late, and its event is lost.
    const { payment } = await f.rpc.call(
      paymentsChargeV1,
      { idempotencyKey: paymentKeyFor(hold.id, "late"), amountCents: hold.totalCents, card: CARD, reference: { holdId: hold.id, eventId: event.id } },
      { token: late, waitForCapacity: true },
    );
    await waitFor(async () => (await f.rpc.call(paymentsListV1, {}, { token: late })).payments[0]?.status === "refunded", { what: "the reconciler's refund" });
    expect(await outcomeOf(payment.id)).toBe("refunded");
    const result = await expectCheckoutInvariants(f, eventIds);
    expect(result.refunded).toBe(1);
  });

  it("when a captured payment names a hold that is not the buyer's, the reconciler refunds it and confirms nothing", async () => {
    const event = await f.createEvent([{ name: "Stalls", rows: 1, seatsPerRow: 2, priceCents: 2000 }]);
    eventIds.push(event.id);
    const owner = await f.tokenFor("rec-owner");
    const stranger = await f.tokenFor("rec-stranger");
    const { hold } = await f.rpc.call(inventoryHoldV1, { eventId: event.id, quantity: 1 }, { token: owner });
    const { payment } = await f.rpc.call(
      paymentsChargeV1,
      { idempotencyKey: "not-mine", amountCents: hold.totalCents, card: CARD, reference: { holdId: hold.id, eventId: event.id } },
      { token: stranger, waitForCapacity: true },
    );
    await waitFor(async () => (await outcomeOf(payment.id)) === "refunded", { what: "the stranger's payment refunded" });
    expect((await f.rpc.call(inventoryOrdersV1, {}, { token: owner })).orders).toHaveLength(0);
    expect((await f.rpc.call(paymentsListV1, {}, { token: stranger })).payments[0]?.status).toBe("refunded");
  });

  it("when checkouts complete normally, the reconciler records each payment as confirmed without touching the orders", async () => {
    const event = await f.createEvent([{ name: "Stalls", rows: 1, seatsPerRow: 4, priceCents: 1000 }]);
    eventIds.push(event.id);
    const token = await f.tokenFor("rec-normal");
    const { hold } = await f.rpc.call(inventoryHoldV1, { eventId: event.id, quantity: 2 }, { token });
    const { order } = await f.rpc.call(inventoryOrderV1, { holdId: hold.id, idempotencyKey: "n", payment: CARD }, { token });
    await waitFor(async () => (await outcomeOf(order.paymentId)) === "confirmed", { what: "the normal payment recorded as confirmed" });
    const orders = (await f.rpc.call(inventoryOrdersV1, {}, { token })).orders;
    expect(orders.map((o) => [o.id, o.status])).toEqual([[order.id, "confirmed"]]);
    await expectCheckoutInvariants(f, eventIds);
  });
});
