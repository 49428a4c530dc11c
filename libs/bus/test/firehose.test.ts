import { requireRedis, uniqueName, waitFor } from "@boxoffice/testkit";
import { Redis } from "ioredis";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  BusUnavailableError,
  createFirehose,
  createInMemoryFirehose,
  createProcessedEventLog,
  createRedisFirehose,
  FirehoseInputError,
  type Delivery,
  type Firehose,
  type FirehoseEvent,
} from "../src/index.ts";

const redis = await requireRedis();
const prefix = uniqueName("fh_test");

interface Target {
  name: string;
  available: boolean;
  create(): Firehose;
  processedLogUrl: string;
}

const targets: Target[] = [
  { name: "in-memory", available: true, create: () => createInMemoryFirehose(), processedLogUrl: "memory://" },
  { name: "Redis Streams", available: redis.available, create: () => createRedisFirehose({ url: redis.url, prefix }), processedLogUrl: redis.url },
];

afterAll(async () => {
  if (!redis.available) return;
  const client = new Redis(redis.url);
  let cursor = "0";
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length) await client.del(...keys);
  } while (cursor !== "0");
  client.disconnect();
});

const never = () => new Promise<void>(() => {});

describe.each(targets)("firehose on $name", (target) => {
  describe.skipIf(!target.available)(target.name, () => {
    const open: Firehose[] = [];
    const firehose = () => {
      const created = target.create();
      open.push(created);
      return created;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((f) => f.close()));
    });

    it("when an event is published, it comes back typed with an id, a version and a time", async () => {
      const hose = firehose();
      const event = await hose.publish("orders", { type: "order.placed.v1", version: 1, key: "o1", data: { total: 5 } });
      expect(event).toMatchObject({ type: "order.placed.v1", version: 1, key: "o1", data: { total: 5 } });
      expect(event.id).toMatch(/\S+/);
      expect(Number.isNaN(Date.parse(event.occurredAt))).toBe(false);
    });

    it("when publish gets bad input, it fails with a typed error naming the field", async () => {
      const hose = firehose();
      await expect(hose.publish("orders", { type: "", version: 1, key: "k", data: null })).rejects.toMatchObject({ field: "type" });
      await expect(hose.publish("orders", { type: "x.v1", version: 0, key: "k", data: null })).rejects.toMatchObject({ field: "version" });
      await expect(hose.publish("orders", { type: "x.v1", version: 1, key: 5 as unknown as string, data: null })).rejects.toBeInstanceOf(FirehoseInputError);
      await expect(hose.publish("bad stream!", { type: "x.v1", version: 1, key: "k", data: null })).rejects.toMatchObject({ field: "stream" });
      expect(() => hose.subscribe("orders", { from: "yesterday" }, () => {})).toThrow(FirehoseInputError);
      expect(() => hose.consume("orders", { group: "", consumer: "c" }, () => {})).toThrow(/group/);
    });

    it("when two subscribers listen from latest, each sees every later event in order, and not older ones", async () => {
      const hose = firehose();
      const stream = uniqueName("bcast");
      await hose.publish(stream, { type: "t.v1", version: 1, key: "k", data: 0 });
      const seen: [number[], number[]] = [[], []];
      const subs = seen.map((list) => hose.subscribe<number>(stream, { from: "latest" }, (event) => void list.push(event.data)));
      await Promise.all(subs.map((s) => s.ready));
      for (let i = 1; i <= 5; i++) await hose.publish(stream, { type: "t.v1", version: 1, key: "k", data: i });
      await waitFor(() => seen[0].length === 5 && seen[1].length === 5, { what: "both subscribers to see five events" });
      expect(seen).toEqual([[1, 2, 3, 4, 5], [1, 2, 3, 4, 5]]);
      await Promise.all(subs.map((s) => s.close()));
    });

    it("when a subscriber starts from earliest or from a position seen earlier, it gets what came after", async () => {
      const hose = firehose();
      const stream = uniqueName("replay");
      for (let i = 1; i <= 4; i++) await hose.publish(stream, { type: "t.v1", version: 1, key: "k", data: i });
      const all: number[] = [];
      const positions: string[] = [];
      const first = hose.subscribe<number>(stream, { from: "earliest" }, (event, delivery) => {
        all.push(event.data);
        positions.push(delivery.position);
      });
      await waitFor(() => all.length === 4, { what: "four events from earliest" });
      await first.close();
      expect(all).toEqual([1, 2, 3, 4]);
      expect(first.position).toBe(positions[3]);

      const resumed: number[] = [];
      const second = hose.subscribe<number>(stream, { from: positions[1] }, (event) => void resumed.push(event.data));
      await waitFor(() => resumed.length === 2, { what: "the two events after the second position" });
      await hose.publish(stream, { type: "t.v1", version: 1, key: "k", data: 5 });
      await waitFor(() => resumed.length === 3, { what: "a new event after resuming" });
      expect(resumed).toEqual([3, 4, 5]);
      await second.close();
    });

    it("when two consumers share a group, every event is handled exactly once between them (no failures)", async () => {
      const hose = firehose();
      const stream = uniqueName("group");
      const handled = new Map<string, string[]>();
      const make = (name: string) =>
        hose.consume(stream, { group: "g", consumer: name, batchSize: 4 }, async (event) => {
          handled.set(event.id, [...(handled.get(event.id) ?? []), name]);
          await new Promise((r) => setTimeout(r, 1));
        });
      const consumers = [make("a"), make("b")];
      await Promise.all(consumers.map((c) => c.ready));
      const ids: string[] = [];
      for (let i = 0; i < 40; i++) ids.push((await hose.publish(stream, { type: "t.v1", version: 1, key: `k${i}`, data: i })).id);
      await waitFor(() => handled.size === 40, { what: "all 40 events handled" });
      // Count late duplicates too: closing waits for every handler already running, and one more
      // publish handled after all 40 means both consumers have read past them.
      await hose.publish(stream, { type: "t.v1", version: 1, key: "sentinel", data: -1, id: `${stream}-sentinel` });
      await waitFor(() => handled.has(`${stream}-sentinel`), { what: "the sentinel after the 40" });
      await Promise.all(consumers.map((c) => c.close()));
      const twice = [...handled.entries()].filter(([, who]) => who.length !== 1);
      expect(twice, "events handled more than once (by whom)").toEqual([]);
      expect(handled.size).toBe(41);
    });

    it("when a consumer dies mid-batch without acknowledging, another consumer receives the unacknowledged events", async () => {
      const hose = firehose();
      const stream = uniqueName("crash");
      const options = { group: "g", visibilityTimeoutMs: 1000, batchSize: 10 };
      // Published before the group exists, so the first consumer takes all five in one batch.
      for (let i = 0; i < 5; i++) await hose.publish(stream, { type: "t.v1", version: 1, key: `k${i}`, data: i });
      const takenByDead: FirehoseEvent[] = [];
      const dead = hose.consume(stream, { ...options, consumer: "dead" }, (event) => {
        takenByDead.push(event);
        return never(); // stuck mid-batch: never acknowledges
      });
      await waitFor(() => takenByDead.length === 5, { what: "the first consumer to take the batch" });
      await dead.close();

      const rescued = new Map<string, Delivery>();
      const survivor = hose.consume(stream, { ...options, consumer: "survivor" }, (event, delivery) => void rescued.set(event.id, delivery));
      await waitFor(() => rescued.size === 5, { what: "the survivor to receive the five unacknowledged events" });
      expect([...rescued.keys()].sort()).toEqual(takenByDead.map((e) => e.id).sort());
      expect([...rescued.values()].every((d) => d.attempt === 2)).toBe(true);
      await survivor.close();
    });

    it("when a handler fails once, the event is redelivered after the visibility timeout and then acknowledged", async () => {
      const hose = firehose();
      const stream = uniqueName("retry");
      const attempts: number[] = [];
      const consumer = hose.consume(stream, { group: "g", consumer: "c", visibilityTimeoutMs: 200, onError: () => {} }, (_event, delivery) => {
        attempts.push(delivery.attempt);
        if (delivery.attempt === 1) throw new Error("transient");
      });
      await consumer.ready;
      await hose.publish(stream, { type: "t.v1", version: 1, key: "k", data: 1 });
      await waitFor(() => attempts.length === 2, { what: "a second delivery" });
      expect(attempts).toEqual([1, 2]);
      await consumer.close();
    });

    it("when a handler keeps failing, after maxAttempts the event goes to the dead-letter stream and is acknowledged", async () => {
      const hose = firehose();
      const stream = uniqueName("poison");
      const attempts: number[] = [];
      const consumer = hose.consume(stream, { group: "g", consumer: "c", visibilityTimeoutMs: 150, maxAttempts: 3, onError: () => {} }, (_event, delivery) => {
        attempts.push(delivery.attempt);
        throw new Error("poison pill");
      });
      await consumer.ready;
      const published = await hose.publish(stream, { type: "t.v1", version: 1, key: "k", data: "bad" });
      const dead: Array<[FirehoseEvent, Delivery]> = [];
      const deadLetters = hose.subscribe(`${stream}.dead-letter`, { from: "earliest" }, (event, delivery) => void dead.push([event, delivery]));
      await waitFor(() => dead.length === 1, { what: "the event on the dead-letter stream" });
      expect(attempts).toEqual([1, 2, 3]);
      expect(dead[0][0].id).toBe(published.id);
      expect(dead[0][1].deadLetter).toMatchObject({ group: "g", attempts: 3 });
      expect(dead[0][1].deadLetter?.reason).toMatch(/poison pill/);
      await consumer.close();
      // Acknowledged: a new consumer in the group gets nothing more.
      const later: string[] = [];
      const second = hose.consume(stream, { group: "g", consumer: "c2", visibilityTimeoutMs: 150 }, (event) => void later.push(event.id));
      await hose.publish(stream, { type: "t.v1", version: 1, key: "k", data: "good" });
      await waitFor(() => later.length === 1, { what: "the next event" });
      expect(later).not.toContain(published.id);
      expect(attempts).toHaveLength(3);
      await Promise.all([second.close(), deadLetters.close()]);
    });

    it("when events of several keys interleave, each key's events reach the group in publish order", async () => {
      const hose = firehose();
      const stream = uniqueName("order");
      const seen = new Map<string, number[]>();
      let concurrent = 0;
      let maxConcurrent = 0;
      const consumer = hose.consume<number>(stream, { group: "g", consumer: "c", batchSize: 16 }, async (event) => {
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        // Uneven work per event: without per-key sequencing later events would overtake earlier ones.
        await new Promise((r) => setTimeout(r, (event.data * 7) % 5));
        seen.set(event.key, [...(seen.get(event.key) ?? []), event.data]);
        concurrent--;
      });
      await consumer.ready;
      const expected = new Map<string, number[]>();
      for (let i = 0; i < 60; i++) {
        const key = `seat-${i % 3}`;
        expected.set(key, [...(expected.get(key) ?? []), i]);
        await hose.publish(stream, { type: "t.v1", version: 1, key, data: i });
      }
      await waitFor(() => [...seen.values()].reduce((n, l) => n + l.length, 0) === 60, { what: "all 60 events" });
      expect(seen).toEqual(expected);
      await consumer.close();
    });

    it("when a handler records processed ids, a redelivered event is recognised and skipped", async () => {
      const log = createProcessedEventLog(target.processedLogUrl, { prefix: `${prefix}:processed`, ttlSeconds: 60 });
      const id = uniqueName("evt");
      expect(await log.has(id)).toBe(false);
      expect(await log.add(id)).toBe(true);
      expect(await log.add(id)).toBe(false);
      expect(await log.has(id)).toBe(true);
      await expect(log.add("")).rejects.toMatchObject({ field: "eventId" });
      await log.close();
    });
  });
});

describe("createFirehose", () => {
  it("when the URL names no known backend, it fails with a typed error naming url", () => {
    expect(() => createFirehose("kafka://x")).toThrow(FirehoseInputError);
    expect(() => createFirehose("kafka://x")).toThrow(/url/);
  });

  it("when Redis does not answer, publish fails fast with BusUnavailableError", async () => {
    const hose = createFirehose("redis://127.0.0.1:1");
    await expect(hose.publish("s", { type: "t.v1", version: 1, key: "k", data: 1 })).rejects.toBeInstanceOf(BusUnavailableError);
    await hose.close();
  });
});
