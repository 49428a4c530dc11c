// The simulated processor's books in the payments databases (table simulated_processor, routed by
// the processor key's hash): written with their own statements, never inside a payments
// transaction, so a charge the processor made outlives a commit of ours that failed.
import type { ProcessorBooks, ProcessorResult } from "../domain/processor.ts";
import type { ShardSql, Sql } from "./sql.ts";

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

/** A result for the books, as ProcessorBooks.record takes it, with the logical shard of its key. */
export interface ProcessorEntry {
  key: string;
  logicalShard: number;
  kind: "charge" | "refund";
  amountCents: number;
  result: ProcessorResult;
}

/**
 * record for many new keys in one statement (group commit), on the physical shard that owns them:
 * the result of each key this statement wrote. A key missing from the answer existed already
 * (record answers it with the first result). Every key must appear once.
 */
export async function recordProcessorEntries(sql: Sql, entries: readonly ProcessorEntry[]): Promise<Map<string, ProcessorResult>> {
  const inserted = await sql.query<{ key: string; result: ProcessorResult }>(
    `INSERT INTO payments.simulated_processor (key, logical_shard, kind, amount_cents, result)
     SELECT r.key, r.logical_shard, r.kind, r.amount_cents, r.result::jsonb
       FROM unnest($1::text[], $2::int[], $3::text[], $4::int[], $5::text[]) AS r(key, logical_shard, kind, amount_cents, result)
     ON CONFLICT (key) DO NOTHING RETURNING key, result`,
    [entries.map((e) => e.key), entries.map((e) => e.logicalShard), entries.map((e) => e.kind), entries.map((e) => e.amountCents), entries.map((e) => JSON.stringify(e.result))],
  );
  return new Map(inserted.rows.map((r) => [r.key, r.result]));
}
