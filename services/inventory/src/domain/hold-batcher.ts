// Group commit of holds by quantity, per event and process. The first hold of an idle event runs at
// once, alone, on the one-request path (a batch of one costs what a hold always cost); holds of that
// event arriving while a transaction of it is in flight queue, and the next transaction serves up
// to `max` of them at once (store/hold-batch-store.ts). A quiet event never waits; a hot one (a hold
// of it arrived within INVENTORY_BATCH_HOT_MS) lets a hold wait up to INVENTORY_BATCH_WAIT_MS for
// company (createGroupCommit of @boxoffice/sharding), so holds that arrive spread out still share transactions.
//
// Every request still gets its own answer. A request the batch leaves undecided, and every request
// of a batch that fails as a whole, runs alone on the one-request path: one buyer's request can
// never fail another's.
import { MAX_SEATS_PER_BUYER } from "@boxoffice/contracts";
import { holdByQuantityBatch } from "../store/hold-batch-store.ts";
import { holdByQuantity, type HoldOutcome, type NewHold } from "../store/hold-store.ts";
import { withRetry, type Sql } from "../store/sql.ts";
import { createGroupCommit } from "@boxoffice/sharding";
import type { InventoryDeps } from "./ports.ts";

interface Pending {
  sql: Sql;
  hold: NewHold;
  quantity: number;
  resolve(outcome: HoldOutcome): void;
  reject(error: unknown): void;
}

/** What the batcher did in this process (tests and benches read it). */
export const holdBatchStats = { transactions: 0, batches: 0, batchedRequests: 0, servedInBatch: 0, alone: 0, batchFailures: 0 };

function alone(p: Pending): void {
  holdBatchStats.alone++;
  withRetry(() => holdByQuantity(p.sql, p.hold, p.quantity)).then(p.resolve, p.reject);
}

async function runBatch(batch: Pending[]): Promise<void> {
  holdBatchStats.transactions++;
  if (batch.length === 1) {
    const [p] = batch;
    holdBatchStats.alone++;
    await withRetry(() => holdByQuantity(p.sql, p.hold, p.quantity)).then(p.resolve, p.reject);
    return;
  }
  holdBatchStats.batches++;
  holdBatchStats.batchedRequests += batch.length;
  let results: Array<HoldOutcome | undefined> | undefined;
  try {
    results = await withRetry(() => holdByQuantityBatch(batch[0].sql, batch.map((p) => ({ hold: p.hold, quantity: p.quantity }))));
  } catch {
    // Whatever failed the batch (a request the database refuses, a race on a usage row), each
    // request now runs alone and gets its own answer, error included.
    holdBatchStats.batchFailures++;
    results = undefined;
  }
  for (const [i, p] of batch.entries()) {
    const decided = results?.[i];
    if (decided) {
      holdBatchStats.servedInBatch++;
      p.resolve(decided);
    } else {
      // Not awaited: the lane's next batch need not wait for these (they ran concurrently before batching too).
      alone(p);
    }
  }
}

const group = createGroupCommit<string, Pending>(runBatch);

/**
 * Holds `quantity` best-available seats, in a group commit with the event's other holds of the
 * moment when `deps.holdBatchMax` > 1; the outcome is the one the one-request path would give.
 */
export function holdByQuantityGrouped(sql: Sql, hold: NewHold, quantity: number, deps: Pick<InventoryDeps, "shards" | "holdBatchMax" | "batchWait">): Promise<HoldOutcome> {
  const max = deps.holdBatchMax ?? 1;
  // Off, or a request the batch does not take (the one-request path answers it as it always did).
  if (max <= 1 || !Number.isInteger(quantity) || quantity < 1 || quantity > MAX_SEATS_PER_BUYER) {
    return withRetry(() => holdByQuantity(sql, hold, quantity));
  }
  return new Promise<HoldOutcome>((resolve, reject) => group.enqueue(deps.shards, hold.eventId, { sql, hold, quantity, resolve, reject }, max, deps.batchWait));
}
