// Publishes committed payment events (payment.captured.v1, payment.refunded.v1) from the outbox to
// the firehose, at least once — the same approach as the events service's relay: claim a batch per
// shard (SKIP LOCKED, so two relays never take the same rows), publish in order, mark published.
import type { Firehose } from "@boxoffice/bus";
import type { Logger } from "@boxoffice/runtime";
import { relayOutbox, type OutboxRow } from "../store/payments-store.ts";
import type { Sql } from "../store/sql.ts";

export interface OutboxRelay {
  start(): void;
  /** Publish now (a write just committed) instead of at the next poll. */
  nudge(): void;
  stop(): Promise<void>;
}

export function createOutboxRelay(options: { shards: () => Sql[]; firehose: Firehose; logger: Logger; pollMs: number; batchSize?: number }): OutboxRelay {
  const batchSize = options.batchSize ?? 100;
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let nudged = false;

  async function publish(rows: OutboxRow[]): Promise<void> {
    for (const row of rows) {
      await options.firehose.publish(row.stream, { id: row.id, type: row.type, version: row.version, key: row.key, data: row.data, occurredAt: row.occurredAt });
    }
  }

  async function drainOnce(): Promise<void> {
    await Promise.all(
      options.shards().map(async (sql) => {
        try {
          while (running && (await relayOutbox(sql, batchSize, publish)) === batchSize);
        } catch (error) {
          options.logger.warn({ err: error, shard: sql.shard }, "outbox relay: publishing failed; will retry");
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
        const timer = setTimeout(resolve, options.pollMs);
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
