// Group commit of confirmations, per logical shard and process, the way hold-batcher.ts does holds:
// the first confirmation of an idle shard runs alone (confirmHold, as always); confirmations that
// arrive while one is in flight queue, and the next transaction does up to `max` of them
// (store/confirm-batch-store.ts). What the batch leaves undecided, a request naming a hold or payment
// already in the batch, and every request of a batch that fails, run alone on confirmHold.
import { confirmHoldBatch } from "../store/confirm-batch-store.ts";
import { confirmHold, type ConfirmInput, type ConfirmOutcome } from "../store/order-store.ts";
import { withRetry, type Sql } from "../store/sql.ts";
import { createGroupCommit } from "@boxoffice/sharding";
import type { InventoryDeps } from "./ports.ts";

interface Pending {
  sql: Sql;
  input: ConfirmInput;
  resolve(outcome: ConfirmOutcome): void;
  reject(error: unknown): void;
}

/** What the batcher did in this process (tests and benches read it). */
export const confirmBatchStats = { batches: 0, batchedRequests: 0, servedInBatch: 0, alone: 0, batchFailures: 0 };

function alone(p: Pending): Promise<void> {
  confirmBatchStats.alone++;
  return withRetry(() => confirmHold(p.sql, p.input)).then(p.resolve, p.reject);
}

async function runBatch(batch: Pending[]): Promise<void> {
  if (batch.length === 1) return alone(batch[0]);
  // Each hold and each payment once per batch: a repeat goes alone, after the batch has committed.
  const holds = new Set<string>();
  const payments = new Set<string>();
  const together: Pending[] = [];
  const later: Pending[] = [];
  for (const p of batch) {
    if (holds.has(p.input.holdId) || payments.has(p.input.paymentId)) later.push(p);
    else {
      holds.add(p.input.holdId);
      payments.add(p.input.paymentId);
      together.push(p);
    }
  }
  confirmBatchStats.batches++;
  confirmBatchStats.batchedRequests += together.length;
  let results: Array<ConfirmOutcome | undefined> | undefined;
  try {
    results = await withRetry(() => confirmHoldBatch(together[0].sql, together.map((p) => p.input)));
  } catch {
    confirmBatchStats.batchFailures++;
    results = undefined;
  }
  for (const [i, p] of together.entries()) {
    const decided = results?.[i];
    if (decided) {
      confirmBatchStats.servedInBatch++;
      p.resolve(decided);
    } else {
      alone(p).catch(() => {}); // alone settles p itself
    }
  }
  for (const p of later) alone(p).catch(() => {});
}

const group = createGroupCommit<number, Pending>(runBatch);

/** confirmHold, in a group commit with the shard's other confirmations of the moment when `deps.confirmBatchMax` > 1. */
export function confirmHoldGrouped(sql: Sql, input: ConfirmInput, deps: Pick<InventoryDeps, "shards" | "confirmBatchMax" | "batchWait">): Promise<ConfirmOutcome> {
  const max = deps.confirmBatchMax ?? 1;
  if (max <= 1) return withRetry(() => confirmHold(sql, input));
  let shard: number;
  try {
    shard = deps.shards.logicalShardOfId(input.holdId);
  } catch {
    return withRetry(() => confirmHold(sql, input));
  }
  return new Promise<ConfirmOutcome>((resolve, reject) => group.enqueue(deps.shards, shard, { sql, input, resolve, reject }, max, deps.batchWait));
}
