// Group commit of the checkout's idempotency records: many begun or finished by one statement, each
// request with the answer the one-request path gives (new, a replay's stored reply, a mismatch).
import { requirePostgres } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { beginCheckoutGrouped, finishCheckoutGrouped, recordBatchStats } from "../src/domain/checkout-record-batcher.ts";
import { beginCheckout, finishCheckout, type CheckoutRecord } from "../src/store/checkout-store.ts";
import { createDomainFixture, type DomainFixture } from "./support/domain-fixture.ts";

const postgres = await requirePostgres();
const kinds = ["pglite", "postgres"] as const;

for (const kind of kinds) describe.skipIf(kind === "postgres" && !postgres.available)(`group commit of checkout records (${kind})`, () => {
  let f: DomainFixture;
  beforeAll(async () => {
    f = await createDomainFixture(kind);
  });
  afterAll(async () => {
    await f?.close();
  });

  // Buyers whose records live on one physical shard (one lane), so their requests share batches.
  function buyersOnOneShard(prefix: string, n: number): string[] {
    const first = f.deps.shards.forKey(`${prefix}-0`).shard;
    const out: string[] = [];
    for (let i = 0; out.length < n; i++) if (f.deps.shards.forKey(`${prefix}-${i}`).shard === first) out.push(`${prefix}-${i}`);
    return out;
  }

  function record(buyerId: string, key: string, hash = "hash"): CheckoutRecord {
    return { buyerId, idempotencyKey: key, logicalShard: f.deps.shards.logicalShardOf(buyerId), requestHash: hash, holdId: `hold-of-${buyerId}` };
  }

  it("when many checkouts of one shard begin at once, one statement records the new ones; a replay, a mismatch and a repeat in the batch get the one-request answers", async () => {
    const [done, clash, ...fresh] = buyersOnOneShard("rec", 8);
    const sql = f.deps.shards.forKey(done);
    // Earlier requests: one finished with a reply, one in progress with another body.
    await beginCheckout(sql, record(done, "k"));
    await finishCheckout(sql, done, "k", { ok: true, body: { id: "order-1" } });
    await beginCheckout(sql, record(clash, "k", "other-body"));
    const before = { ...recordBatchStats };
    const begun = await Promise.all([
      beginCheckoutGrouped(sql, record(fresh[0], "k"), f.deps), // runs at once, alone (the lane was idle)
      ...fresh.slice(1).map((b) => beginCheckoutGrouped(f.deps.shards.forKey(b), record(b, "k"), f.deps)),
      beginCheckoutGrouped(sql, record(done, "k"), f.deps),
      beginCheckoutGrouped(sql, record(clash, "k"), f.deps),
      beginCheckoutGrouped(f.deps.shards.forKey(fresh[1]), record(fresh[1], "k"), f.deps), // the same request twice in one batch
    ]);
    expect(recordBatchStats.beginBatches - before.beginBatches).toBe(1);
    expect(begun).toEqual([
      ...fresh.map(() => ({ state: "new" })),
      { state: "done", reply: { ok: true, body: { id: "order-1" } } },
      { state: "mismatch" },
      { state: "in_progress" },
    ]);
    const rows = (
      await sql.query<{ buyer_id: string; status: string; request_hash: string; hold_id: string; logical_shard: number }>(
        `SELECT buyer_id, status, request_hash, hold_id, logical_shard FROM inventory.checkout_requests WHERE buyer_id = ANY($1::text[]) ORDER BY buyer_id`,
        [fresh],
      )
    ).rows;
    expect(rows).toEqual(
      [...fresh].sort().map((b) => ({ buyer_id: b, status: "in_progress", request_hash: "hash", hold_id: `hold-of-${b}`, logical_shard: f.deps.shards.logicalShardOf(b) })),
    );
  });

  it("when many checkouts of one shard finish at once, one statement records each reply, and a replay gets its own", async () => {
    const buyers = buyersOnOneShard("fin", 6);
    for (const b of buyers) await beginCheckout(f.deps.shards.forKey(b), record(b, "k"));
    const before = { ...recordBatchStats };
    await Promise.all(
      buyers.map((b, i) =>
        finishCheckoutGrouped(
          f.deps.shards.forKey(b),
          b,
          "k",
          i % 2 === 0 ? { ok: true, body: { id: `order-${b}` } } : { ok: false, error: { code: "HOLD_EXPIRED", message: `expired ${b}` } },
          f.deps,
        ),
      ),
    );
    expect(recordBatchStats.finishBatches - before.finishBatches).toBe(1);
    const replays = await Promise.all(buyers.map((b) => beginCheckout(f.deps.shards.forKey(b), record(b, "k"))));
    expect(replays).toEqual(
      buyers.map((b, i) => ({
        state: "done",
        reply: i % 2 === 0 ? { ok: true, body: { id: `order-${b}` } } : { ok: false, error: { code: "HOLD_EXPIRED", message: `expired ${b}` } },
      })),
    );
  });
});
