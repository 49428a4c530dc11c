// Publishes committed payment events (payment.captured.v1, payment.refunded.v1) from the outbox to
// the firehose, at least once, with the bus's outbox relay: claim a batch per shard (SKIP LOCKED, so
// two relays never take the same rows), publish in order, mark published.
import { createOutboxRelay as createBusOutboxRelay, type Firehose, type OutboxRelay } from "@boxoffice/bus";
import type { Logger } from "@boxoffice/runtime";
import { relayOutbox, type OutboxRow } from "../store/payments-store.ts";
import type { Sql } from "../store/sql.ts";

export type { OutboxRelay } from "@boxoffice/bus";

export function createOutboxRelay(options: { shards: () => Sql[]; firehose: Firehose; logger: Logger; pollMs: number; nudgeDelayMs?: number; batchSize?: number }): OutboxRelay {
  return createBusOutboxRelay<Sql, OutboxRow>({
    firehose: options.firehose,
    shards: options.shards,
    relayBatch: relayOutbox,
    toEvent: (row) => ({
      stream: row.stream,
      // The row's trace context: the publish (and the consumers) continue the charge's trace.
      event: { id: row.id, type: row.type, version: row.version, key: row.key, data: row.data, occurredAt: row.occurredAt, traceparent: row.traceparent },
    }),
    shardName: (sql) => sql.shard,
    logger: options.logger,
    pollMs: options.pollMs,
    nudgeDelayMs: options.nudgeDelayMs,
    batchSize: options.batchSize,
  });
}
