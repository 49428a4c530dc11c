// The simulated processor's books in the payments databases (table simulated_processor, routed by
// the processor key's hash): written with their own statements, never inside a payments
// transaction, so a charge the processor made outlives a commit of ours that failed.
import type { ProcessorBooks, ProcessorResult } from "../domain/processor.ts";
import type { ShardSql } from "./sql.ts";

export function createSqlProcessorBooks(shards: Pick<ShardSql, "forKey" | "logicalShardOf">): ProcessorBooks {
  async function read(key: string): Promise<ProcessorResult | undefined> {
    const row = (await shards.forKey(key).query<{ result: ProcessorResult }>(`SELECT result FROM payments.simulated_processor WHERE key = $1`, [key])).rows[0];
    return row?.result;
  }
  return {
    read,
    async record(key, entry) {
      // One statement when the key is new (the usual charge): the row written is the first.
      const inserted = await shards
        .forKey(key)
        .query<{ result: ProcessorResult }>(
          `INSERT INTO payments.simulated_processor (key, logical_shard, kind, amount_cents, result) VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (key) DO NOTHING RETURNING result`,
          [key, shards.logicalShardOf(key), entry.kind, entry.amountCents, JSON.stringify(entry.result)],
        );
      const first = inserted.rows[0]?.result ?? (await read(key));
      if (!first) throw new Error(`the processor's record of ${key} vanished`);
      return first;
    },
  };
}
