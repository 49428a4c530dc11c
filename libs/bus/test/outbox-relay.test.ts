import { waitFor } from "@boxoffice/testkit";
import { describe, expect, it } from "vitest";
import { createInMemoryFirehose, createOutboxRelay, type FirehoseEvent } from "../src/index.ts";

interface Row { id: string; key: string; n: number }

/** A store double: unpublished rows per shard; a batch is marked published only if publish resolves. */
function outbox(shards: Record<string, Row[]>) {
  const published = new Set<string>();
  return {
    published,
    shards: () => Object.keys(shards),
    async relayBatch(shard: string, limit: number, publish: (rows: Row[]) => Promise<void>) {
      const batch = shards[shard].filter((r) => !published.has(r.id)).slice(0, limit);
      if (batch.length) await publish(batch);
      for (const r of batch) published.add(r.id);
      return batch.length;
    },
  };
}

describe("outbox relay", () => {
  it("when rows wait on several shards, each reaches the firehose once and in order per key, even past one batch", async () => {
    const firehose = createInMemoryFirehose();
    const rows = (shard: string) => Array.from({ length: 7 }, (_, n) => ({ id: `${shard}-${n}`, key: shard, n }));
    const store = outbox({ a: rows("a"), b: rows("b") });
    const seen: FirehoseEvent[] = [];
    const sub = firehose.subscribe("things", { from: "earliest" }, (event) => void seen.push(event));
    const relay = createOutboxRelay<string, Row>({
      firehose,
      shards: store.shards,
      relayBatch: store.relayBatch,
      toEvent: (row) => ({ stream: "things", event: { id: row.id, type: "thing.v1", version: 1, key: row.key, data: { n: row.n } } }),
      batchSize: 3,
      pollMs: 10_000,
    });
    relay.start();
    await waitFor(() => seen.length === 14, { what: "14 events" });
    await relay.stop();
    await sub.close();
    for (const key of ["a", "b"]) {
      expect(seen.filter((e) => e.key === key).map((e) => (e.data as { n: number }).n)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    }
    expect(new Set(seen.map((e) => e.id)).size).toBe(14);
    await firehose.close();
  });

  it("when writes nudge the relay within its nudge delay, their rows go out together in one pass", async () => {
    const firehose = createInMemoryFirehose();
    const rows: Row[] = [];
    const store = outbox({ a: rows });
    let passes = 0;
    const relay = createOutboxRelay<string, Row>({
      firehose,
      shards: store.shards,
      relayBatch: (shard, limit, publish) => {
        passes++;
        return store.relayBatch(shard, limit, publish);
      },
      toEvent: (row) => ({ stream: "things", event: { id: row.id, type: "thing.v1", version: 1, key: row.key, data: {} } }),
      pollMs: 60_000,
      nudgeDelayMs: 50,
    });
    relay.start();
    await waitFor(() => passes === 1, { what: "the first pass" });
    for (let n = 0; n < 5; n++) {
      rows.push({ id: `a-${n}`, key: "a", n });
      relay.nudge();
    }
    await waitFor(() => store.published.size === 5, { what: "the five rows" });
    await relay.stop();
    expect(passes).toBe(2);
    await firehose.close();
  });

  it("when publishing fails, the rows stay unpublished and go out on a later pass", async () => {
    const firehose = createInMemoryFirehose();
    const store = outbox({ a: [{ id: "a-0", key: "a", n: 0 }] });
    let failures = 1;
    const warnings: string[] = [];
    const relay = createOutboxRelay<string, Row>({
      firehose,
      shards: store.shards,
      relayBatch: (shard, limit, publish) =>
        store.relayBatch(shard, limit, async (rows) => {
          if (failures-- > 0) throw new Error("firehose down");
          await publish(rows);
        }),
      toEvent: (row) => ({ stream: "things", event: { id: row.id, type: "thing.v1", version: 1, key: row.key, data: {} } }),
      logger: { warn: (_details, message) => void warnings.push(message) },
      pollMs: 20,
    });
    relay.start();
    await waitFor(() => store.published.has("a-0"), { what: "the row to be published after the failure" });
    await relay.stop();
    expect(warnings).toHaveLength(1);
    await firehose.close();
  });
});
