// The relay half of the transactional outbox: a service writes its change and an outbox row in one
// transaction; this loop publishes committed rows to the firehose, at least once. The claiming of
// rows (SKIP LOCKED, leases, marking published) is the store's; the loop — poll, drain every shard,
// publish now when nudged, stop after the batch in flight — is the same for every service.
import type { Firehose, PublishInput } from "./types.ts";

export interface OutboxRelayOptions<Shard, Row> {
  firehose: Firehose;
  /** The shards to drain, asked on every pass (so a new shard map is followed). */
  shards(): Shard[];
  /**
   * Claims up to `limit` unpublished rows of one shard, calls `publish(rows)`, and marks them
   * published only if it resolves; returns how many rows it claimed.
   */
  relayBatch(shard: Shard, limit: number, publish: (rows: Row[]) => Promise<void>): Promise<number>;
  /** The stream and firehose event of one outbox row (give a stable `id`, so a republish is the same event). */
  toEvent(row: Row): { stream: string; event: PublishInput };
  /** For log lines. */
  shardName?(shard: Shard): string;
  logger?: { warn(details: object, message: string): void };
  /** Milliseconds between passes when nothing nudged the relay. Default 250. */
  pollMs?: number;
  /** Rows claimed per shard per batch. Default 100. */
  batchSize?: number;
  /**
   * How long a nudge waits before the pass it asks for, in ms, so that the rows committed meanwhile
   * go in the same claim and mark (two statements per pass, whatever its size). 0: at once. Default 0.
   */
  nudgeDelayMs?: number;
}

export interface OutboxRelay {
  start(): void;
  /** Publish now (a write just committed) instead of at the next poll. */
  nudge(): void;
  /** Finishes the batch in flight, then stops. */
  stop(): Promise<void>;
}

export function createOutboxRelay<Shard, Row>(options: OutboxRelayOptions<Shard, Row>): OutboxRelay {
  const pollMs = options.pollMs ?? 250;
  const batchSize = options.batchSize ?? 100;
  const nudgeDelayMs = options.nudgeDelayMs ?? 0;
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let nudged = false;
  let nudgeTimer: ReturnType<typeof setTimeout> | undefined;

  async function publish(rows: Row[]): Promise<void> {
    // In order: per-key order on the firehose follows the order rows were written.
    for (const row of rows) {
      const { stream, event } = options.toEvent(row);
      await options.firehose.publish(stream, event);
    }
  }

  async function drainOnce(): Promise<void> {
    await Promise.all(
      options.shards().map(async (shard) => {
        try {
          while (running && (await options.relayBatch(shard, batchSize, publish)) === batchSize);
        } catch (error) {
          // The rows stay unpublished and are retried at the next pass.
          options.logger?.warn({ err: error, shard: options.shardName?.(shard) }, "outbox relay: publishing failed; will retry");
        }
      }),
    );
  }

  async function run(): Promise<void> {
    while (running) {
      nudged = false;
      await drainOnce();
      if (!running) continue;
      if (nudged) {
        // Written during the pass: the next one after the delay, with what else commits by then.
        if (nudgeDelayMs > 0) await new Promise<void>((resolve) => setTimeout(resolve, nudgeDelayMs));
        continue;
      }
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
      if (nudgeDelayMs <= 0) {
        wake?.();
        return;
      }
      // Waiting for the next poll: wake after the delay (one timer for every nudge until then).
      nudgeTimer ??= setTimeout(() => {
        nudgeTimer = undefined;
        wake?.();
      }, nudgeDelayMs);
    },
    async stop() {
      running = false;
      if (nudgeTimer) clearTimeout(nudgeTimer);
      nudgeTimer = undefined;
      wake?.();
      await loop;
    },
  };
}
