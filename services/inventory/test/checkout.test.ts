import { RpcError } from "@boxoffice/bus";
import {
  eventLiveGroup,
  INVENTORY_STREAM,
  inventoryAvailabilityChangedV1,
  inventoryAvailabilitiesV1,
  inventoryAvailabilityV1,
  inventoryGetOrderV1,
  inventoryHealthV1,
  inventoryHoldV1,
  inventoryMethods,
  inventoryOrdersV1,
  inventoryOrderV1,
  inventoryReleaseV1,
  inventorySeatsV1,
  paymentsHealthV1,
  paymentsListV1,
} from "@boxoffice/contracts";
import { requirePostgres, requireRedis, waitFor } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alreadyConfirmed } from "../src/domain/checkout.ts";
import { createCheckoutFixture, type CheckoutFixture, type Target } from "./support/checkout-fixture.ts";

const redis = await requireRedis();
const postgres = await requirePostgres();
// The Redis + Postgres variant is always declared: without those services it shows as skipped, never vanishes.
const targets: Target[] = ["memory", "redis"];
const missing = (target: Target) => target === "redis" && !(redis.available && postgres.available);

const GOOD_CARD = { cardNumber: "4242424242424242", expMonth: 12, expYear: 2030, cvc: "123" };
const DECLINED_CARD = { ...GOOD_CARD, cardNumber: "4000000000000002" };

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "OK";
  } catch (error) {
    return error instanceof RpcError ? error.code : String(error);
  }
}

for (const target of targets) describe.skipIf(missing(target))(`checkout (${target})`, () => {
  let f: CheckoutFixture;
  beforeAll(async () => {
    f = await createCheckoutFixture(target);
  });
  afterAll(async () => {
    await f?.close();
  });

  it("when a buyer holds seats and pays with a good card, the order is confirmed with one ticket per seat", async () => {
    const event = await f.createEvent([{ name: "Stalls", rows: 4, seatsPerRow: 10, priceCents: 2500 }]);
    const token = await f.tokenFor("buyer-1");
    const { hold } = await f.rpc.call(inventoryHoldV1, { eventId: event.id, quantity: 3 }, { token });
    expect(hold.seats).toHaveLength(3);
    expect(new Set(hold.seats.map((s) => s.row)).size).toBe(1);
    expect(hold.totalCents).toBe(7500);
    const { order } = await f.rpc.call(inventoryOrderV1, { holdId: hold.id, idempotencyKey: "k1", payment: GOOD_CARD }, { token });
    expect(order.status).toBe("confirmed");
    expect(order.tickets.map((t) => t.seatId).sort()).toEqual(hold.seats.map((s) => s.id).sort());
    expect(order.tickets.every((t) => /^[A-Z2-7]{26}$/.test(t.code))).toBe(true);
    const { seats } = await f.rpc.call(inventorySeatsV1, { eventId: event.id });
    expect(seats.filter((s) => s.status === "sold").map((s) => s.id).sort()).toEqual(hold.seats.map((s) => s.id).sort());
    const availability = await f.rpc.call(inventoryAvailabilityV1, { eventId: event.id });
    expect(availability.available).toBe(37);
    const { payments } = await f.rpc.call(paymentsListV1, {}, { token });
    expect(payments).toHaveLength(1);
    expect(payments[0]).toMatchObject({ status: "captured", amountCents: 7500, cardLast4: "4242" });
  });

  it("when the card is declined, the order fails with PAYMENT_DECLINED and the seats stay held for another card", async () => {
    const event = await f.createEvent([{ name: "Stalls", rows: 2, seatsPerRow: 5, priceCents: 1000 }]);
    const token = await f.tokenFor("buyer-2");
    const { hold } = await f.rpc.call(inventoryHoldV1, { eventId: event.id, quantity: 2 }, { token });
    expect(await codeOf(f.rpc.call(inventoryOrderV1, { holdId: hold.id, idempotencyKey: "a", payment: DECLINED_CARD }, { token }))).toBe("PAYMENT_DECLINED");
    // The same request again replays the stored decline.
    expect(await codeOf(f.rpc.call(inventoryOrderV1, { holdId: hold.id, idempotencyKey: "a", payment: DECLINED_CARD }, { token }))).toBe("PAYMENT_DECLINED");
    const { seats } = await f.rpc.call(inventorySeatsV1, { eventId: event.id });
    expect(seats.filter((s) => s.status === "held")).toHaveLength(2);
    const { order } = await f.rpc.call(inventoryOrderV1, { holdId: hold.id, idempotencyKey: "b", payment: GOOD_CARD }, { token });
    expect(order.status).toBe("confirmed");
  });

  it("when one order request is replayed, the reply is the same; with a different body, IDEMPOTENCY_MISMATCH", async () => {
    const event = await f.createEvent([{ name: "Stalls", rows: 2, seatsPerRow: 5, priceCents: 1000 }]);
    const token = await f.tokenFor("buyer-3");
    const { hold } = await f.rpc.call(inventoryHoldV1, { eventId: event.id, quantity: 1 }, { token });
    const first = await f.rpc.call(inventoryOrderV1, { holdId: hold.id, idempotencyKey: "same", payment: GOOD_CARD }, { token });
    const again = await f.rpc.call(inventoryOrderV1, { holdId: hold.id, idempotencyKey: "same", payment: GOOD_CARD }, { token });
    expect(again).toEqual(first);
    expect(
      await codeOf(f.rpc.call(inventoryOrderV1, { holdId: hold.id, idempotencyKey: "same", payment: { ...GOOD_CARD, cvc: "999" } }, { token })),
    ).toBe("IDEMPOTENCY_MISMATCH");
  });

  it("when the same order request arrives 10 times at once, the buyer is charged once", async () => {
    const event = await f.createEvent([{ name: "Stalls", rows: 2, seatsPerRow: 5, priceCents: 1000 }]);
    const token = await f.tokenFor("buyer-4");
    const { hold } = await f.rpc.call(inventoryHoldV1, { eventId: event.id, quantity: 2 }, { token });
    const replies = await Promise.all(
      Array.from({ length: 10 }, () => f.rpc.call(inventoryOrderV1, { holdId: hold.id, idempotencyKey: "burst", payment: GOOD_CARD }, { token })),
    );
    expect(new Set(replies.map((r) => r.order.id)).size).toBe(1);
    const { payments } = await f.rpc.call(paymentsListV1, {}, { token });
    expect(payments).toHaveLength(1);
  });

  it("when a buyer lists orders they come newest first, and another buyer cannot read them", async () => {
    const event = await f.createEvent([{ name: "Stalls", rows: 2, seatsPerRow: 5, priceCents: 1000 }]);
    const token = await f.tokenFor("buyer-5");
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { hold } = await f.rpc.call(inventoryHoldV1, { eventId: event.id, quantity: 1 }, { token });
      ids.push((await f.rpc.call(inventoryOrderV1, { holdId: hold.id, idempotencyKey: `o${i}`, payment: GOOD_CARD }, { token })).order.id);
    }
    const page1 = await f.rpc.call(inventoryOrdersV1, { limit: 2 }, { token });
    expect(page1.orders.map((o) => o.id)).toEqual([ids[2], ids[1]]);
    const page2 = await f.rpc.call(inventoryOrdersV1, { limit: 2, cursor: page1.nextCursor ?? undefined }, { token });
    expect(page2.orders.map((o) => o.id)).toEqual([ids[0]]);
    expect(page2.nextCursor).toBeNull();
    const other = await f.tokenFor("buyer-6");
    expect(await codeOf(f.rpc.call(inventoryGetOrderV1, { orderId: ids[0] }, { token: other }))).toBe("NOT_FOUND");
    expect((await f.rpc.call(inventoryGetOrderV1, { orderId: ids[0] }, { token })).order.id).toBe(ids[0]);
  });

  it("when seats are held or released, the new availability goes to the firehose and to the event's live group", async () => {
    const event = await f.createEvent([{ name: "Stalls", rows: 2, seatsPerRow: 5, priceCents: 1000 }]);
    const inbox = await f.layer.newChannel("live");
    await f.layer.groupAdd(eventLiveGroup(event.id), inbox);
    const published: Array<{ available: number }> = [];
    const subscription = f.firehose.subscribe<{ eventId: string; available: number }>(INVENTORY_STREAM, { from: "latest" }, (e) => {
      if (e.type === inventoryAvailabilityChangedV1.type && e.data.eventId === event.id) published.push(e.data);
    });
    await subscription.ready;
    const token = await f.tokenFor("watcher");
    const { hold } = await f.rpc.call(inventoryHoldV1, { eventId: event.id, quantity: 3 }, { token });
    // The seats' creation may still announce 10 first: read until the hold's state arrives.
    const next = async (available: number) => {
      for (;;) {
        const message = await f.layer.receive(inbox, { timeoutMs: 10_000 });
        if (message.available === available) return message;
      }
    };
    expect(await next(7)).toEqual({ type: "availability", eventId: event.id, available: 7, sections: [{ id: event.sections[0].id, available: 7 }] });
    await f.rpc.call(inventoryReleaseV1, { holdId: hold.id }, { token });
    expect(await next(10)).toMatchObject({ type: "availability", available: 10 });
    await waitFor(() => published.some((p) => p.available === 10), { what: "availability-changed on the firehose" });
    await subscription.close();
    expect(await codeOf(f.rpc.call(inventoryReleaseV1, { holdId: hold.id }, { token }))).toBe("NOT_FOUND");
    const { events } = await f.rpc.call(inventoryAvailabilitiesV1, { eventIds: [event.id, "123"] });
    expect(events.map((e) => e.available)).toEqual([10]);
  });

  it("when a request breaks the contract, VALIDATION_FAILED; without a token, UNAUTHENTICATED", async () => {
    const event = await f.createEvent([{ name: "Stalls", rows: 1, seatsPerRow: 5, priceCents: 1000 }]);
    const token = await f.tokenFor("picky");
    expect(await codeOf(f.rpc.call(inventoryHoldV1, { eventId: event.id, quantity: 9 }, { token }))).toBe("VALIDATION_FAILED");
    expect(await codeOf(f.rpc.call(inventoryHoldV1, { eventId: event.id, quantity: 0 }, { token }))).toBe("VALIDATION_FAILED");
    expect(await codeOf(f.rpc.call(inventoryHoldV1, { eventId: event.id }, { token }))).toBe("VALIDATION_FAILED");
    expect(await codeOf(f.rpc.call(inventoryHoldV1, { eventId: event.id, quantity: 1 }))).toBe("UNAUTHENTICATED");
    expect(await codeOf(f.rpc.call(inventoryOrdersV1, { cursor: "not-ours" }, { token }))).toBe("VALIDATION_FAILED");
  });

  it("when asked, both services report healthy shards and inventory serves exactly its contract", async () => {
    const health = await f.rpc.call(inventoryHealthV1, {});
    expect(health).toMatchObject({ service: "inventory", ok: true, bus: true });
    expect(health.shards).toHaveLength(2);
    expect((await f.rpc.call(paymentsHealthV1, {})).ok).toBe(true);
    expect(f.inventories[0].servedMethods()).toEqual(inventoryMethods.map((m) => m.name).sort());
  });
});

describe("recovery's shortcut for a payment the checkout already confirmed", () => {
  const hold = { holdId: "10", buyerId: "b1" };
  it("when the recorded decision confirmed this buyer's hold with an order, recovery takes it as it is; anything else is settled in full", () => {
    expect(alreadyConfirmed({ outcome: "confirmed", holdId: "10", buyerId: "b1", orderId: "20" }, hold)).toBe(true);
    expect(alreadyConfirmed(undefined, hold)).toBe(false);
    // A refund decision is replayed in full so that the (idempotent) refund call is made again.
    expect(alreadyConfirmed({ outcome: "refund", holdId: "10", buyerId: "b1", orderId: "20" }, hold)).toBe(false);
    expect(alreadyConfirmed({ outcome: "confirmed", holdId: "11", buyerId: "b1", orderId: "20" }, hold)).toBe(false);
    expect(alreadyConfirmed({ outcome: "confirmed", holdId: "10", buyerId: "b2", orderId: "20" }, hold)).toBe(false);
    expect(alreadyConfirmed({ outcome: "confirmed", holdId: "10", buyerId: "b1", orderId: null }, hold)).toBe(false);
  });
});
