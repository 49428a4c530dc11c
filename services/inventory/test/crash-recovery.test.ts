import { RpcError } from "@boxoffice/bus";
import {
  inventoryGetOrderV1,
  inventoryHoldV1,
  inventoryOrdersV1,
  inventoryOrderV1,
  inventorySeatsV1,
  PAYMENTS_STREAM,
  paymentCapturedV1,
  paymentsChargeV1,
  paymentsListV1,
} from "@boxoffice/contracts";
import { createLogger } from "@boxoffice/runtime";
import { createIdGenerator } from "@boxoffice/sharding";
import { requirePostgres, requireRedis, waitFor } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { paymentKeyFor } from "../src/domain/checkout.ts";
import { createCheckoutFixture, type CheckoutFixture, type Target } from "./support/checkout-fixture.ts";
import { expectCheckoutInvariants, settled } from "./support/invariants.ts";

const redis = await requireRedis();
const postgres = await requirePostgres();
// The Redis + Postgres variant is always declared: without those services it shows as skipped, never vanishes.
const targets: Target[] = ["memory", "redis"];
const missing = (target: Target) => target === "redis" && !(redis.available && postgres.available);

const CARD = { cardNumber: "4242424242424242", expMonth: 12, expYear: 2030, cvc: "123" };

for (const target of targets) describe.skipIf(missing(target))(`checkout crash recovery (${target})`, () => {
  let f: CheckoutFixture;
  // Holds whose orchestrator "dies" (the hook throws: nothing after it runs) at that point.
  const dieAfterCharge = new Set<string>();
  const dieAfterConfirm = new Set<string>();
  const eventIds: string[] = [];
  // What inventory logs, to see when it has dealt with a firehose event that changes nothing.
  const logLines: string[] = [];
  beforeAll(async () => {
    f = await createCheckoutFixture(target, {
      inventoryLogger: createLogger({ service: "inventory", level: "warn", destination: { write: (line) => void logLines.push(line) } }),
      faults: () => ({
        afterCharge: ({ holdId }) => {
          if (dieAfterCharge.has(holdId)) throw new Error("orchestrator died between charge and confirm");
        },
        afterConfirm: ({ holdId }) => {
          if (dieAfterConfirm.has(holdId)) throw new Error("orchestrator died between confirm and reply");
        },
      }),
    });
  });
  afterAll(async () => {
    await f?.close();
  });

  it("when the orchestrator dies between charge and confirm, the captured payment still becomes a confirmed order, and a replay does not charge again", async () => {
    const event = await f.createEvent([{ name: "Stalls", rows: 2, seatsPerRow: 5, priceCents: 1500 }]);
    eventIds.push(event.id);
    const token = await f.tokenFor("crash-1");
    const { hold } = await f.rpc.call(inventoryHoldV1, { eventId: event.id, quantity: 2 }, { token });
    dieAfterCharge.add(hold.id);
    const failed = await f.rpc.call(inventoryOrderV1, { holdId: hold.id, idempotencyKey: "c1", payment: CARD }, { token }).catch((e: RpcError) => e);
    expect(failed).toBeInstanceOf(RpcError);
    expect((failed as RpcError).code).toBe("INTERNAL");
    const recovered = await waitFor(async () => (await f.rpc.call(inventoryOrdersV1, {}, { token })).orders.find((o) => o.holdId === hold.id), {
      what: "the order the recovery consumer confirms",
    });
    expect(recovered.status).toBe("confirmed");
    expect(recovered.tickets).toHaveLength(2);
    dieAfterCharge.delete(hold.id);
    const replay = await f.rpc.call(inventoryOrderV1, { holdId: hold.id, idempotencyKey: "c1", payment: CARD }, { token });
    expect(replay.order.id).toBe(recovered.id);
    expect((await f.rpc.call(paymentsListV1, {}, { token })).payments).toHaveLength(1);
    await expectCheckoutInvariants(f, eventIds);
  });

  it("when someone appends a payment.captured.v1 naming a made-up payment to the firehose, the hold it names stays unpaid and no order is confirmed", async () => {
    const event = await f.createEvent([{ name: "Stalls", rows: 1, seatsPerRow: 4, priceCents: 2500 }]);
    const token = await f.tokenFor("forge-victim");
    const { hold } = await f.rpc.call(inventoryHoldV1, { eventId: event.id, quantity: 2 }, { token });
    // A well-formed payment id on the buyer's shard that payments never issued.
    const madeUp = createIdGenerator({ nodeId: 29 }).forKey("forge-victim");
    await f.firehose.publish(PAYMENTS_STREAM, {
      type: paymentCapturedV1.type,
      version: paymentCapturedV1.version,
      key: "forge-victim",
      id: `payment.captured:${madeUp}`,
      data: {
        paymentId: madeUp,
        buyerId: "forge-victim",
        amountCents: hold.totalCents,
        currency: "usd",
        reference: { holdId: hold.id, eventId: event.id },
        capturedAt: new Date().toISOString(),
      },
    });
    const orders = async () => (await f.rpc.call(inventoryOrdersV1, {}, { token })).orders;
    // Either outcome ends the wait: the forged event ignored (logged) or an order confirmed from it.
    await waitFor(async () => logLines.some((line) => line.includes(madeUp)) || (await orders()).length > 0, {
      what: "inventory to deal with the forged payment.captured.v1",
    });
    expect((await orders()).map((o) => `${o.status} order paid by ${o.paymentId}`)).toEqual([]);
    const [row] = await f.queryAll<{ status: string }>(`SELECT status FROM inventory.holds WHERE id = $1`, [hold.id]);
    expect(row.status).toBe("active");
    expect(await f.queryAll(`SELECT 1 FROM inventory.payment_outcomes WHERE payment_id = $1`, [madeUp])).toEqual([]);
  });

  it("when the orchestrator dies between confirm and reply, the order exists once and the replay returns it", async () => {
    const event = await f.createEvent([{ name: "Stalls", rows: 2, seatsPerRow: 5, priceCents: 1500 }]);
    eventIds.push(event.id);
    const token = await f.tokenFor("crash-2");
    const { hold } = await f.rpc.call(inventoryHoldV1, { eventId: event.id, quantity: 1 }, { token });
    dieAfterConfirm.add(hold.id);
    expect(await f.rpc.call(inventoryOrderV1, { holdId: hold.id, idempotencyKey: "c2", payment: CARD }, { token }).then(() => "OK", (e: RpcError) => e.code)).toBe("INTERNAL");
    dieAfterConfirm.delete(hold.id);
    const replay = await f.rpc.call(inventoryOrderV1, { holdId: hold.id, idempotencyKey: "c2", payment: CARD }, { token });
    expect(replay.order.status).toBe("confirmed");
    expect((await f.rpc.call(inventoryOrdersV1, {}, { token })).orders.map((o) => o.id)).toEqual([replay.order.id]);
    expect((await f.rpc.call(paymentsListV1, {}, { token })).payments).toHaveLength(1);
    await waitFor(() => settled(f, eventIds), { what: "every captured payment settled" });
    await expectCheckoutInvariants(f, eventIds);
  });

  it("when a paid hold expired and its seats were sold to someone else before confirmation, the payment is refunded and the order shows refunded", async () => {
    const event = await f.createEvent([{ name: "Stalls", rows: 1, seatsPerRow: 4, priceCents: 2000 }]);
    eventIds.push(event.id);
    const late = await f.tokenFor("crash-late");
    const quick = await f.tokenFor("crash-quick");
    const { seats } = await f.rpc.call(inventorySeatsV1, { eventId: event.id });
    const { hold } = await f.rpc.call(inventoryHoldV1, { eventId: event.id, seatIds: [seats[0].id, seats[1].id] }, { token: late });
    // The hold runs out while the (dead) orchestrator's charge is still in flight …
    await f.queryAll(`UPDATE inventory.holds SET expires_at = now() - interval '1 second' WHERE id = $1`, [hold.id]);
    await f.inventories[0].sweep();
    // … someone else buys the seats …
    const other = await f.rpc.call(inventoryHoldV1, { eventId: event.id, seatIds: [seats[0].id, seats[1].id] }, { token: quick });
    await f.rpc.call(inventoryOrderV1, { holdId: other.hold.id, idempotencyKey: "q", payment: CARD }, { token: quick });
    // … and only then does the charge of the expired hold land (what the orchestrator had sent).
    const { payment } = await f.rpc.call(
      paymentsChargeV1,
      { idempotencyKey: paymentKeyFor(hold.id, "late"), amountCents: hold.totalCents, card: CARD, reference: { holdId: hold.id, eventId: event.id } },
      { token: late, waitForCapacity: true },
    );
    const order = await waitFor(async () => (await f.rpc.call(inventoryOrdersV1, {}, { token: late })).orders.find((o) => o.holdId === hold.id), {
      what: "the refunded order of the expired hold",
    });
    expect(order).toMatchObject({ status: "refunded", paymentId: payment.id, tickets: [] });
    expect((await f.rpc.call(inventoryGetOrderV1, { orderId: order.id }, { token: late })).order.status).toBe("refunded");
    await waitFor(async () => (await f.rpc.call(paymentsListV1, {}, { token: late })).payments[0]?.status === "refunded", { what: "the refund" });
    const result = await expectCheckoutInvariants(f, eventIds);
    expect(result.refunded).toBe(1);
  });
});
