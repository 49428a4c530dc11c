// Recovery's lock-free reads of payment decisions (settleCapturedPayment), grouped like the group
// commits: reads of one shard asked while one is in flight go together in the next statement. The
// recovery consumer wakes its events on a common tick, so a spike's captured payments are looked
// at a batch per statement instead of one each.
import { readPaymentOutcomes, type PaymentOutcomeRecord } from "../store/order-store.ts";
import type { Sql } from "../store/sql.ts";
import { createGroupCommit } from "@boxoffice/sharding";
import type { InventoryDeps } from "./ports.ts";

interface Pending {
  sql: Sql;
  paymentId: string;
  resolve(decided: PaymentOutcomeRecord | undefined): void;
  reject(error: unknown): void;
}

const READ_BATCH_MAX = 256;

// Keyed by logical shard, like the confirmations: the router hands out a new Sql per call.
const group = createGroupCommit<number, Pending>(async (batch) => {
  const decided = await readPaymentOutcomes(batch[0].sql, [...new Set(batch.map((p) => p.paymentId))]);
  for (const p of batch) p.resolve(decided.get(p.paymentId));
});

/** The decision recorded for the payment of `holdId` on `sql`, read together with the shard's other reads of the moment. */
export async function readPaymentOutcomeGrouped(
  sql: Sql,
  input: { holdId: string; paymentId: string },
  deps: Pick<InventoryDeps, "shards">,
): Promise<PaymentOutcomeRecord | undefined> {
  let shard: number;
  try {
    shard = deps.shards.logicalShardOfId(input.holdId);
  } catch {
    return (await readPaymentOutcomes(sql, [input.paymentId])).get(input.paymentId);
  }
  return new Promise((resolve, reject) => group.enqueue(deps.shards, shard, { sql, paymentId: input.paymentId, resolve, reject }, READ_BATCH_MAX));
}
