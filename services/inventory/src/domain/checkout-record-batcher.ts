// Group commit of the checkout's idempotency records (inventory.checkout_requests, on the buyer's
// shard): every order writes its record twice (in progress, then its reply), each an autocommitted
// statement of its own. Records of one physical shard that queue together (createGroupCommit of @boxoffice/sharding, with
// its wait for company when the shard is hot) are written by one statement instead.
//
// The answers are the one-request path's: a request whose record already existed (a replay, a
// mismatch), a (buyer, key) already in the batch, and every request of a batch that fails as a
// whole (a shard moving, a database error) run alone on beginCheckout / finishCheckout.
import { beginCheckout, beginCheckoutBatch, finishCheckout, finishCheckoutBatch, type CheckoutBegin, type CheckoutRecord, type StoredReply } from "../store/checkout-store.ts";
import { withRetry, type Sql } from "../store/sql.ts";
import { createGroupCommit, firstOfEach, physicalExecutorOf } from "@boxoffice/sharding";
import type { InventoryDeps } from "./ports.ts";

type Deps = Pick<InventoryDeps, "shards" | "recordBatchMax" | "batchWait">;

interface PendingBegin {
  sql: Sql;
  /** The physical shard's own executor (no move following: a fenced row fails the batch, and each request then runs alone). */
  physical: Sql;
  record: CheckoutRecord;
  resolve(outcome: CheckoutBegin): void;
  reject(error: unknown): void;
}

interface PendingFinish {
  sql: Sql;
  physical: Sql;
  buyerId: string;
  idempotencyKey: string;
  reply: StoredReply;
  resolve(): void;
  reject(error: unknown): void;
}

/** What the batcher did in this process (tests and benches read it). */
export const recordBatchStats = { beginBatches: 0, beginBatched: 0, finishBatches: 0, finishBatched: 0, alone: 0, batchFailures: 0 };

function beginAlone(p: PendingBegin): Promise<void> {
  recordBatchStats.alone++;
  return beginCheckout(p.sql, p.record).then(p.resolve, p.reject);
}

function finishAlone(p: PendingFinish): Promise<void> {
  recordBatchStats.alone++;
  return finishCheckout(p.sql, p.buyerId, p.idempotencyKey, p.reply).then(p.resolve, p.reject);
}

const keyOf = (buyerId: string, idempotencyKey: string) => JSON.stringify([buyerId, idempotencyKey]);

const begins = createGroupCommit<string, PendingBegin>(async (batch) => {
  if (batch.length === 1) return beginAlone(batch[0]);
  const { together, later } = firstOfEach(batch, (p) => keyOf(p.record.buyerId, p.record.idempotencyKey));
  recordBatchStats.beginBatches++;
  recordBatchStats.beginBatched += together.length;
  let fresh: boolean[] | undefined;
  try {
    fresh = await withRetry(() => beginCheckoutBatch(together[0].physical, together.map((p) => p.record)));
  } catch {
    recordBatchStats.batchFailures++;
  }
  for (const [i, p] of together.entries()) {
    if (fresh?.[i]) p.resolve({ state: "new" });
    else beginAlone(p).catch(() => {}); // settles p itself
  }
  for (const p of later) beginAlone(p).catch(() => {});
});

const finishes = createGroupCommit<string, PendingFinish>(async (batch) => {
  if (batch.length === 1) return finishAlone(batch[0]);
  const { together, later } = firstOfEach(batch, (p) => keyOf(p.buyerId, p.idempotencyKey));
  recordBatchStats.finishBatches++;
  recordBatchStats.finishBatched += together.length;
  try {
    await withRetry(() => finishCheckoutBatch(together[0].physical, together));
    for (const p of together) p.resolve();
  } catch {
    recordBatchStats.batchFailures++;
    for (const p of together) finishAlone(p).catch(() => {});
  }
  // After the batch: the last reply recorded is the last asked for, as one at a time.
  for (const p of later) await finishAlone(p);
});

/** beginCheckout, in a group commit with the shard's other new checkouts of the moment when `deps.recordBatchMax` > 1. */
export function beginCheckoutGrouped(sql: Sql, record: CheckoutRecord, deps: Deps): Promise<CheckoutBegin> {
  const max = deps.recordBatchMax ?? 1;
  const physical = max > 1 ? physicalExecutorOf(sql, deps.shards.all()) : undefined;
  if (!physical) return beginCheckout(sql, record);
  return new Promise((resolve, reject) => begins.enqueue(deps.shards, physical.shard, { sql, physical, record, resolve, reject }, max, deps.batchWait));
}

/** finishCheckout, in a group commit with the shard's other finished checkouts of the moment when `deps.recordBatchMax` > 1. */
export function finishCheckoutGrouped(sql: Sql, buyerId: string, idempotencyKey: string, reply: StoredReply, deps: Deps): Promise<void> {
  const max = deps.recordBatchMax ?? 1;
  const physical = max > 1 ? physicalExecutorOf(sql, deps.shards.all()) : undefined;
  if (!physical) return finishCheckout(sql, buyerId, idempotencyKey, reply);
  return new Promise((resolve, reject) => finishes.enqueue(deps.shards, physical.shard, { sql, physical, buyerId, idempotencyKey, reply, resolve, reject }, max, deps.batchWait));
}
