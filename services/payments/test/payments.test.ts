import { createInMemoryFirehose, RpcError } from "@boxoffice/bus";
import { paymentCapturedV1, PAYMENTS_STREAM } from "@boxoffice/contracts";
import { createLogger } from "@boxoffice/runtime";
import { requirePostgres, waitFor } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOutboxRelay } from "../src/domain/outbox-relay.ts";
import { charge, listLedger, processorKeyOf, refund } from "../src/domain/payments.ts";
import { reconcile } from "../src/domain/reconciler.ts";
import { createMemoryProcessorBooks, createSimulatedProcessor, ProcessorUnavailableError } from "../src/domain/processor.ts";
import { chargeRequest, createPaymentsFixture, GOOD, type PaymentsFixture } from "./support/payments-fixture.ts";

const postgres = await requirePostgres();
const silent = createLogger({ service: "test", level: "silent" });
// The Postgres variant is always declared: without Postgres it shows as skipped, never vanishes.
const kinds = ["pglite", "postgres"] as const;

const request = chargeRequest;

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "OK";
  } catch (error) {
    return error instanceof RpcError ? error.code : error instanceof Error ? error.name : String(error);
  }
}

// Each case one charge at a time (PAYMENTS_BATCH_MAX=1) and grouped (the default 64): the same answers.
const cases = kinds.flatMap((kind) => [1, 64].map((batchMax) => ({ kind, batchMax })));

for (const { kind, batchMax } of cases) describe.skipIf(kind === "postgres" && !postgres.available)(`payments (${kind}, batch max ${batchMax})`, () => {
  let f: PaymentsFixture;
  let failNext = false;
  // The processor's own count of charges it made (not our ledger's rows), per processor key.
  const books = createMemoryProcessorBooks();
  const chargesAtProcessor = (paymentId: string) => (books.entries.has(`charge:${processorKeyOf(paymentId)}`) ? 1 : 0);
  let processorCharges = 0;
  const dieAfterProcessor = new Set<string>();
  beforeAll(async () => {
    const simulated = createSimulatedProcessor({
      books: {
        read: (key) => books.read(key),
        record: async (key, entry) => {
          if (!books.entries.has(key) && entry.kind === "charge" && entry.result.approved) processorCharges++;
          return books.record(key, entry);
        },
      },
    });
    f = await createPaymentsFixture(kind, {
      batchMax,
      processor: {
        charge: async (request) => {
          if (failNext) {
            failNext = false;
            throw new ProcessorUnavailableError();
          }
          return simulated.charge(request);
        },
        retrieve: (key) => simulated.retrieve(key),
        refund: (request) => simulated.refund(request),
      },
      faults: {
        afterProcessorCharge: ({ idempotencyKey }) => {
          if (dieAfterProcessor.has(idempotencyKey)) throw new Error("died between the processor's answer and the commit");
        },
      },
    });
  });
  afterAll(async () => {
    await f?.close();
  });

  it("when a good card is charged, the payment is captured and only the last four digits are stored", async () => {
    const { payment } = await charge(request("p-buyer-1", "k1"), f.deps);
    expect(payment).toMatchObject({ status: "captured", amountCents: 5000, cardLast4: "4242", buyerId: "p-buyer-1" });
    const dump = JSON.stringify(await f.queryAll("SELECT p.*, k.* FROM payments.payments p, payments.idempotency_keys k WHERE p.buyer_id = 'p-buyer-1'"));
    expect(dump).not.toContain("4242424242424242");
    expect(dump).not.toContain("4242 4242 4242 4242");
  });

  it("when the same key comes back with the same parameters, the stored result is returned and nothing is charged again", async () => {
    const first = await charge(request("p-buyer-2", "same"), f.deps);
    const again = await charge(request("p-buyer-2", "same"), f.deps);
    expect(again).toEqual(first);
    expect((await listLedger({ buyerId: "p-buyer-2", limit: 10 }, f.deps)).payments).toHaveLength(1);
  });

  it("when the same key comes back with different parameters, IDEMPOTENCY_MISMATCH", async () => {
    await charge(request("p-buyer-3", "k"), f.deps);
    expect(await codeOf(charge(request("p-buyer-3", "k", { amountCents: 6000 }), f.deps))).toBe("IDEMPOTENCY_MISMATCH");
  });

  it("when a card is declined, the decline is stored and replayed like a success", async () => {
    const declined = { ...GOOD, cardNumber: "4000000000009995" };
    const error = await charge(request("p-buyer-4", "d", { card: declined }), f.deps).catch((e: RpcError) => e);
    expect(error).toBeInstanceOf(RpcError);
    expect((error as RpcError).code).toBe("PAYMENT_DECLINED");
    expect((error as RpcError).details).toMatchObject({ declineCode: "insufficient_funds" });
    expect(await codeOf(charge(request("p-buyer-4", "d", { card: declined }), f.deps))).toBe("PAYMENT_DECLINED");
    expect(await codeOf(charge(request("p-buyer-4", "e", { card: { ...GOOD, cardNumber: "4000000000000002" } }), f.deps))).toBe("PAYMENT_DECLINED");
    const invalid = await charge(request("p-buyer-4", "f", { card: { ...GOOD, cardNumber: "1234" } }), f.deps).catch((e: RpcError) => e);
    expect((invalid as RpcError).details).toMatchObject({ declineCode: "invalid_number" });
    expect((await listLedger({ buyerId: "p-buyer-4", limit: 10 }, f.deps)).payments).toHaveLength(0);
  });

  it("when 10 requests with one key arrive at once, the card is charged once", async () => {
    const before = processorCharges;
    const replies = await Promise.all(Array.from({ length: 10 }, () => charge(request("p-buyer-5", "burst"), f.deps)));
    expect(new Set(replies.map((r) => r.payment.id)).size).toBe(1);
    expect(processorCharges - before).toBe(1);
    expect((await listLedger({ buyerId: "p-buyer-5", limit: 10 }, f.deps)).payments).toHaveLength(1);
  });

  it("when the processor fails, nothing is stored and a retry with the same key charges once", async () => {
    failNext = true;
    expect(await codeOf(charge(request("p-buyer-6", "flaky"), f.deps))).toBe("ProcessorUnavailableError");
    const { payment } = await charge(request("p-buyer-6", "flaky"), f.deps);
    expect(payment.status).toBe("captured");
    expect((await listLedger({ buyerId: "p-buyer-6", limit: 10 }, f.deps)).payments).toHaveLength(1);
  });

  it("when the process dies between the processor's answer and the commit, a retry with the same key charges the card once", async () => {
    const before = processorCharges;
    dieAfterProcessor.add("crash");
    expect(await codeOf(charge(request("p-buyer-10", "crash"), f.deps))).toBe("Error");
    expect(processorCharges - before).toBe(1);
    // Nothing was recorded, but the pending record was committed first: the retry goes back to the
    // processor with the same processor key and gets the same charge.
    expect((await listLedger({ buyerId: "p-buyer-10", limit: 10 }, f.deps)).payments).toHaveLength(0);
    dieAfterProcessor.delete("crash");
    const { payment } = await charge(request("p-buyer-10", "crash"), f.deps);
    const again = await charge(request("p-buyer-10", "crash"), f.deps);
    expect(again.payment.id).toBe(payment.id);
    expect(processorCharges - before).toBe(1);
    expect(chargesAtProcessor(payment.id)).toBe(1);
    expect((await listLedger({ buyerId: "p-buyer-10", limit: 10 }, f.deps)).payments.map((p) => p.id)).toEqual([payment.id]);
  });

  it("when a request dies after the processor charged and nobody retries, the reconciler records the charge from the processor's books", async () => {
    dieAfterProcessor.add("orphan");
    expect(await codeOf(charge(request("p-buyer-11", "orphan"), f.deps))).toBe("Error");
    dieAfterProcessor.delete("orphan");
    const settlements: string[] = [];
    const deps = { ...f.deps, logger: silent, inventory: { settle: async (i: { paymentId: string }) => (settlements.push(i.paymentId), { outcome: "confirmed" as const, orderId: null }) } };
    // Once the dead request's lease has run out, a pass records the capture; a later pass settles it.
    await waitFor(async () => (await reconcile(deps, { olderThanMs: 0 })).pendingRecorded === 1, { what: "the pending charge recorded" });
    const [payment] = (await listLedger({ buyerId: "p-buyer-11", limit: 10 }, f.deps)).payments;
    expect(payment?.status).toBe("captured");
    await waitFor(async () => settlements.includes(payment.id) || (await reconcile(deps, { olderThanMs: 0 }), settlements.includes(payment.id)), {
      what: "the recorded payment settled through inventory",
    });
    const replay = await charge(request("p-buyer-11", "orphan"), f.deps);
    expect(replay.payment.id).toBe(payment.id);
    expect(chargesAtProcessor(payment.id)).toBe(1);
  });

  it("when the processor never saw a pending charge, the reconciler abandons it and a retry with the key charges once", async () => {
    const before = processorCharges;
    failNext = true;
    expect(await codeOf(charge(request("p-buyer-12", "unseen"), f.deps))).toBe("ProcessorUnavailableError");
    const deps = { ...f.deps, logger: silent, inventory: { settle: async () => ({ outcome: "confirmed" as const, orderId: null }) } };
    expect((await reconcile(deps, { olderThanMs: 0 })).pendingAbandoned).toBe(1);
    expect(await f.queryAll("SELECT status FROM payments.idempotency_keys WHERE buyer_id = 'p-buyer-12'")).toEqual([{ status: "abandoned" }]);
    const { payment } = await charge(request("p-buyer-12", "unseen"), f.deps);
    expect(payment.status).toBe("captured");
    expect(processorCharges - before).toBe(1);
  });

  it("when a payment is refunded twice, it is refunded once; someone else's payment is NOT_FOUND", async () => {
    const { payment } = await charge(request("p-buyer-7", "r"), f.deps);
    expect(await codeOf(refund({ buyerId: "intruder", paymentId: payment.id, idempotencyKey: "x" }, f.deps))).toBe("NOT_FOUND");
    const first = await refund({ buyerId: "p-buyer-7", paymentId: payment.id, idempotencyKey: "r1" }, f.deps);
    const replay = await refund({ buyerId: "p-buyer-7", paymentId: payment.id, idempotencyKey: "r1" }, f.deps);
    const other = await refund({ buyerId: "p-buyer-7", paymentId: payment.id, idempotencyKey: "r2" }, f.deps);
    expect(replay).toEqual(first);
    expect(other.refund.id).toBe(first.refund.id);
    expect(first.payment).toMatchObject({ status: "refunded", refundedCents: 5000 });
    expect(await f.queryAll("SELECT id FROM payments.refunds WHERE payment_id = $1", [payment.id])).toHaveLength(1);
  });

  it("when a buyer lists the ledger, payments come newest first, page by page", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await charge(request("p-buyer-8", `l${i}`, { amountCents: 100 + i }), f.deps)).payment.id);
    const page1 = await listLedger({ buyerId: "p-buyer-8", limit: 2 }, f.deps);
    expect(page1.payments.map((p) => p.id)).toEqual([ids[2], ids[1]]);
    const page2 = await listLedger({ buyerId: "p-buyer-8", limit: 2, cursor: page1.nextCursor ?? undefined }, f.deps);
    expect(page2.payments.map((p) => p.id)).toEqual([ids[0]]);
    expect(page2.nextCursor).toBeNull();
    expect(await codeOf(listLedger({ buyerId: "p-buyer-8", limit: 2, cursor: "garbage" }, f.deps))).toBe("VALIDATION_FAILED");
  });

  it("when a charge commits, the relay publishes payment.captured.v1 on the firehose once per payment", async () => {
    const firehose = createInMemoryFirehose();
    const seen: Array<{ id: string; data: { paymentId: string } }> = [];
    const subscription = firehose.subscribe<{ paymentId: string }>(PAYMENTS_STREAM, { from: "earliest" }, (event) => {
      if (event.type === paymentCapturedV1.type) seen.push({ id: event.id, data: event.data });
    });
    await subscription.ready;
    const relay = createOutboxRelay({ shards: f.deps.shards.all, firehose, logger: createLogger({ service: "test", level: "silent" }), pollMs: 20 });
    const { payment } = await charge(request("p-buyer-9", "o"), f.deps);
    relay.start();
    await waitFor(() => seen.some((e) => e.data.paymentId === payment.id), { what: "payment.captured.v1 of the charge" });
    await relay.stop();
    expect(seen.filter((e) => e.data.paymentId === payment.id)).toHaveLength(1);
    expect(await f.queryAll("SELECT id FROM payments.outbox WHERE published_at IS NULL")).toHaveLength(0);
    await subscription.close();
    await firehose.close();
  });
});
