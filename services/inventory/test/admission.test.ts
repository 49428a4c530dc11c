// Nobody passes the waiting room's line by calling the bus: with admission keys configured, a hold
// needs an admission signed for this buyer and this event, still valid; inventory checks it locally.
import { randomBytes } from "node:crypto";
import { RpcError } from "@boxoffice/bus";
import { inventoryHoldV1 } from "@boxoffice/contracts";
import { createAdmissionKeys } from "@boxoffice/identity";
import { requirePostgres, requireRedis } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCheckoutFixture, type CheckoutFixture, type Target } from "./support/checkout-fixture.ts";

const redis = await requireRedis();
const postgres = await requirePostgres();
// The Redis + Postgres variant is always declared: without those services it shows as skipped, never vanishes.
const targets: Target[] = ["memory", "redis"];
const missing = (target: Target) => target === "redis" && !(redis.available && postgres.available);

async function refusal(promise: Promise<unknown>): Promise<{ code: string; details?: unknown }> {
  try {
    await promise;
    return { code: "OK" };
  } catch (error) {
    if (error instanceof RpcError) return { code: error.code, details: error.details };
    throw error;
  }
}

for (const target of targets) describe.skipIf(missing(target))(`holds behind the waiting room (${target})`, () => {
  const key = randomBytes(32).toString("hex");
  const room = createAdmissionKeys([key]);
  let f: CheckoutFixture;
  let eventId: string;

  beforeAll(async () => {
    f = await createCheckoutFixture(target, { instances: 1, admissionKeys: key });
    eventId = (await f.createEvent([{ name: "Floor", rows: 2, seatsPerRow: 10, priceCents: 1000 }])).id;
  });
  afterAll(async () => {
    await f?.close();
  });

  it("when a buyer calls inventory.hold.v1 on the bus with only their identity token, the hold is refused NOT_ADMITTED with the queue path", async () => {
    const token = await f.tokenFor("9001");
    const result = await refusal(f.rpc.call(inventoryHoldV1, { eventId, quantity: 1 }, { token }));
    expect(result).toMatchObject({ code: "NOT_ADMITTED", details: { queuePath: `/api/events/${eventId}/queue`, reason: "missing" } });
  });

  it("when the admission is another buyer's, another event's, run out, or signed with another key, the hold is refused", async () => {
    const token = await f.tokenFor("9002");
    const later = Date.now() + 60_000;
    const cases: Array<[string, string]> = [
      ["other_buyer", room.sign({ userId: "9003", eventId, expiresAt: later })],
      ["other_event", room.sign({ userId: "9002", eventId: "123", expiresAt: later })],
      ["expired", room.sign({ userId: "9002", eventId, expiresAt: Date.now() - 1 })],
      ["signature", createAdmissionKeys([randomBytes(32).toString("hex")]).sign({ userId: "9002", eventId, expiresAt: later })],
      ["malformed", "a1.not-json.c2ln"],
    ];
    for (const [reason, admission] of cases) {
      const result = await refusal(f.rpc.call(inventoryHoldV1, { eventId, quantity: 1, admission }, { token }));
      expect(result, reason).toMatchObject({ code: "NOT_ADMITTED", details: { reason: expect.any(String) } });
      if (reason !== "malformed") expect((result.details as { reason: string }).reason, reason).toBe(reason);
    }
  });

  it("when the admission was signed for this buyer and event and is still valid, the hold goes through", async () => {
    const token = await f.tokenFor("9004");
    const admission = room.sign({ userId: "9004", eventId, expiresAt: Date.now() + 60_000 });
    const { hold } = await f.rpc.call(inventoryHoldV1, { eventId, quantity: 2, admission }, { token });
    expect(hold.seats).toHaveLength(2);
  });
});
