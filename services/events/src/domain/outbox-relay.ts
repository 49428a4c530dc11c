// Publishes committed catalogue changes to the firehose (at-least-once). Each poll claims a batch of
// unpublished outbox rows per shard with FOR UPDATE SKIP LOCKED — so two relay instances never work
// the same rows — publishes them in order and marks them published in the same transaction. Rows of
// a relay that died are unlocked with its connection and republished by whichever relay polls next;
// the firehose event id is "<event id>:v<version>", so a republish is recognisably the same event.
import type { Firehose } from "@boxoffice/bus";
import { EVENTS_STREAM, eventUpdatedV1 } from "@boxoffice/contracts";
import type { Logger } from "@boxoffice/runtime";
import type { EventsStore, OutboxRow, ShardSql } from "../store/events-store.ts";

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

export interface OutboxRelay {
  start(): void;
  /** Publish now (a write just committed) instead of at the next poll. */
  nudge(): void;
  /** Finishes the batch in flight, then stops. */
  stop(): Promise<void>;
}

export function firehoseEventIdOf(row: OutboxRow): string {
  return `${row.eventId}:v${row.payload.version}`;
}

export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const pollMs = options.pollMs ?? 250;
  const batchSize = options.batchSize ?? 100;
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let nudged = false;

  async function publish(rows: OutboxRow[]): Promise<void> {
    for (const row of rows) {
      await options.firehose.publish(EVENTS_STREAM, {
        id: firehoseEventIdOf(row),
        type: row.type,
        version: eventUpdatedV1.version,
        key: row.eventId,
        data: row.payload,
      });
    }
  }

  async function drainOnce(): Promise<void> {
    await Promise.all(
      options.shards().map(async (shard) => {
        try {
          while (running && (await options.store.relayOutbox(shard, batchSize, publish)) === batchSize);
        } catch (error) {
          // The rows stay unpublished and are retried at the next poll.
          options.logger.warn({ err: error, shard: shard.shard }, "outbox relay: publishing failed; will retry");
        }
      }),
    );
  }

  async function run(): Promise<void> {
    while (running) {
      nudged = false;
      await drainOnce();
      if (!running || nudged) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      loop = run();
    },
    nudge() {
      nudged = true;
      wake?.();
    },
    async stop() {
      running = false;
      wake?.();
      await loop;
    },
  };
}
