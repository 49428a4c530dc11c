// Publishes committed catalogue changes to the firehose (at-least-once) with the bus's outbox relay.
// Each pass claims a batch of unpublished outbox rows per shard with FOR UPDATE SKIP LOCKED — so two
// relay instances never work the same rows — publishes them in order and marks them published in
// the same transaction. Rows of a relay that died are unlocked with its connection and republished
// by whichever relay polls next; the firehose event id is "<event id>:v<version>", so a republish is
// recognisably the same event.
import { createOutboxRelay as createBusOutboxRelay, type Firehose, type OutboxRelay } from "@boxoffice/bus";
import { EVENTS_STREAM, eventUpdatedV1 } from "@boxoffice/contracts";
import type { Logger } from "@boxoffice/runtime";
import type { EventsStore, OutboxRow, ShardSql } from "../store/events-store.ts";

export type { OutboxRelay } from "@boxoffice/bus";

export interface OutboxRelayOptions {
  store: EventsStore;
  shards(): ShardSql[];
  firehose: Firehose;
  logger: Logger;
  /** Milliseconds between polls when nothing nudged the relay. Default 250. */
  pollMs?: number;
  /** Rows claimed per shard per transaction. Default 100. */
  batchSize?: number;
}

export function firehoseEventIdOf(row: OutboxRow): string {
  return `${row.eventId}:v${row.payload.version}`;
}

export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  return createBusOutboxRelay<ShardSql, OutboxRow>({
    firehose: options.firehose,
    shards: options.shards,
    relayBatch: (shard, limit, publish) => options.store.relayOutbox(shard, limit, publish),
    toEvent: (row) => ({
      stream: EVENTS_STREAM,
      event: { id: firehoseEventIdOf(row), type: row.type, version: eventUpdatedV1.version, key: row.eventId, data: row.payload, traceparent: row.traceparent },
    }),
    shardName: (shard) => shard.shard,
    logger: options.logger,
    pollMs: options.pollMs,
    batchSize: options.batchSize,
  });
}
