// Group commit of charges (PAYMENTS_BATCH_MAX): charges that arrive together share their pending
// records', processor books' and outcomes' statements, and each still gets exactly its own answer.
import { RpcError } from "@boxoffice/bus";
import { requirePostgres } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chargeBatchStats } from "../src/domain/charge-batcher.ts";
import { charge, listLedger, processorKeyOf, recordChargeOutcome } from "../src/domain/payments.ts";
import { beginCharge } from "../src/store/payments-store.ts";
import { chargeRequest, createPaymentsFixture, type PaymentsFixture } from "./support/payments-fixture.ts";

const postgres = await requirePostgres();
const kinds = ["pglite", "postgres"] as const;

const request = chargeRequest;

async function outcomeOf(promise: Promise<{ payment: { id: string } }>): Promise<string> {
  try {
    return (await promise).payment.id;
  } catch (error) {
    return error instanceof RpcError ? error.code : error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
}

const since = (before: typeof chargeBatchStats) => Object.fromEntries(Object.entries(chargeBatchStats).map(([k, v]) => [k, v - before[k as keyof typeof chargeBatchStats]]));

for (const kind of kinds) describe.skipIf(kind === "postgres" && !postgres.available)(`charge batching (${kind})`, () => {
  let f: PaymentsFixture;
  beforeAll(async () => {
    // The processor's books in the payments tables, grouped too: the three statements of app.ts.
    f = await createPaymentsFixture(kind, { batchMax: 64, sqlBooks: true });
  });
  afterAll(async () => {
    await f?.close();
  });

  const rowsOf = async (buyerPrefix: string) => ({
    payments: await f.queryAll<{ id: string; buyer_id: string }>("SELECT id, buyer_id FROM payments.payments WHERE buyer_id LIKE $1", [`${buyerPrefix}%`]),
    outbox: await f.queryAll<{ id: string }>("SELECT o.id FROM payments.outbox o WHERE o.key LIKE $1", [`${buyerPrefix}%`]),
    keys: await f.queryAll<{ buyer_id: string; status: string }>("SELECT buyer_id, status FROM payments.idempotency_keys WHERE buyer_id LIKE $1", [`${buyerPrefix}%`]),
  });
  const booksOf = (paymentIds: string[]) =>
    f.queryAll<{ key: string }>("SELECT key FROM payments.simulated_processor WHERE key = ANY($1::text[])", [paymentIds.map((id) => `charge:${processorKeyOf(id)}`)]);

  it("when 40 buyers pay at once, their three statements run grouped and each buyer gets exactly one payment of their own", async () => {
    const before = { ...chargeBatchStats };
    const buyers = Array.from({ length: 40 }, (_, i) => `grp-a-${i}`);
    const replies = await Promise.all(buyers.map((b, i) => charge(request(b, "k", { amountCents: 1000 + i }), f.deps)));
    const did = since(before);
    // The first charge of each physical shard finds its lane idle and runs alone; the rest queued behind it.
    expect(did.beginBatched, "charges whose pending record went in a grouped statement").toBeGreaterThan(20);
    expect(did.bookBatched, "charges whose processor book went in a grouped statement").toBeGreaterThan(20);
    expect(did.finishBatched, "captures recorded by a grouped statement").toBeGreaterThan(20);
    expect(did.batchFailures).toBe(0);
    replies.forEach((r, i) => expect(r.payment).toMatchObject({ buyerId: buyers[i], amountCents: 1000 + i, status: "captured", cardLast4: "4242" }));
    const ids = replies.map((r) => r.payment.id);
    expect(new Set(ids).size).toBe(40);
    const rows = await rowsOf("grp-a-");
    expect(rows.payments.map((p) => p.id).sort()).toEqual([...ids].sort());
    expect(rows.outbox.map((o) => o.id).sort()).toEqual(ids.map((id) => `payment.captured:${id}`).sort());
    expect(rows.keys.every((k) => k.status === "done")).toBe(true);
    expect(await booksOf(ids)).toHaveLength(40);
    // Each replay answers from its own record, grouped or not.
    const replays = await Promise.all(buyers.map((b, i) => charge(request(b, "k", { amountCents: 1000 + i }), f.deps)));
    expect(replays.map((r) => r.payment.id)).toEqual(ids);
    expect((await rowsOf("grp-a-")).payments).toHaveLength(40);
  });

  it("when the same idempotency key comes twice inside one batch, the card is charged once and both get that payment", async () => {
    const before = { ...chargeBatchStats };
    // Others first, so the twins queue behind a running statement on whichever shard is theirs.
    const others = Array.from({ length: 20 }, (_, i) => charge(request(`grp-b-${i}`, "k"), f.deps));
    const twins = [charge(request("grp-b-twin", "same"), f.deps), charge(request("grp-b-twin", "same"), f.deps)];
    const [first, second] = await Promise.all(twins);
    await Promise.all(others);
    expect(since(before).beginBatched).toBeGreaterThan(10);
    expect(second.payment.id).toBe(first.payment.id);
    expect((await listLedger({ buyerId: "grp-b-twin", limit: 10 }, f.deps)).payments.map((p) => p.id)).toEqual([first.payment.id]);
    expect(await booksOf([first.payment.id])).toHaveLength(1);
    expect(await f.queryAll("SELECT id FROM payments.outbox WHERE key = 'grp-b-twin'")).toHaveLength(1);
  });

  it("when a batch holds a replay and a mismatched key, those get their stored answer and the new charges in it are captured", async () => {
    const earlier = await charge(request("grp-c-old", "k"), f.deps);
    const others = Array.from({ length: 20 }, (_, i) => outcomeOf(charge(request(`grp-c-${i}`, "k"), f.deps)));
    const replay = outcomeOf(charge(request("grp-c-old", "k"), f.deps));
    const mismatch = outcomeOf(charge(request("grp-c-old", "k", { amountCents: 7 }), f.deps));
    expect(await replay).toBe(earlier.payment.id);
    expect(await mismatch).toBe("IDEMPOTENCY_MISMATCH");
    const ids = await Promise.all(others);
    expect(ids.every((id) => /^\d+$/.test(id)), `every new charge captured, got ${ids.join(", ")}`).toBe(true);
    expect(new Set(ids).size).toBe(20);
    expect((await rowsOf("grp-c-")).payments).toHaveLength(21);
  });

  it("when one capture of a batch makes its grouped statement fail, the batch runs one by one: the others are captured and only that one fails", async () => {
    // Buyers of one physical shard, so their captures share one lane: the first runs alone, the
    // other eleven queue behind it and go as one batch.
    const candidates = Array.from({ length: 200 }, (_, i) => `grp-d-${i}`);
    const lane = f.deps.shards.forKey(candidates[0]).shard;
    const buyers = candidates.filter((b) => f.deps.shards.forKey(b).shard === lane).slice(0, 12);
    expect(buyers).toHaveLength(12);
    const pendings = [];
    for (const [i, buyerId] of buyers.entries()) {
      // Amount 0 passes the pending record, then breaks the payments table's check: the grouped
      // outcome statement fails as a whole.
      const pending = { paymentId: f.deps.ids.forKey(buyerId), amountCents: i === 7 ? 0 : 500, currency: "usd", cardLast4: "4242", reference: { holdId: "1" } };
      const scope = { buyerId, key: "k", logicalShard: f.deps.shards.logicalShardOf(buyerId), requestHash: "h" };
      expect((await beginCharge(f.deps.shards.forKey(buyerId), scope, pending, 10_000)).state).toBe("leased");
      pendings.push({ ...pending, buyerId, key: "k" });
    }
    const before = { ...chargeBatchStats };
    const outcomes = await Promise.all(
      pendings.map((p) =>
        recordChargeOutcome(p, { approved: true, last4: "4242" }, f.deps).then(
          (reply) => (reply.ok ? "captured" : reply.error.code),
          (error: Error) => error.message,
        ),
      ),
    );
    const did = since(before);
    expect(did.finishBatched, "captures that queued behind the first").toBe(11);
    expect(did.batchFailures).toBe(1);
    expect(outcomes[7]).toMatch(/check constraint/);
    expect(outcomes.filter((_, i) => i !== 7)).toEqual(Array.from({ length: 11 }, () => "captured"));
    const rows = await rowsOf("grp-d-");
    expect(rows.payments.map((p) => p.id).sort()).toEqual(pendings.filter((_, i) => i !== 7).map((p) => p.paymentId).sort());
    expect(rows.outbox).toHaveLength(11);
    expect(rows.keys.filter((k) => k.status === "done")).toHaveLength(11);
  });
});
