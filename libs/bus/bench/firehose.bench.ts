// Firehose benchmark: publish throughput and end-to-end delivery latency (publish → consumer-group
// handler) on the real Redis, with the in-memory firehose beside it for reference.
// Run: npm run bench -w @boxoffice/bus -- firehose  (or: npx node libs/bus/bench/firehose.bench.ts)
import { loadavg } from "node:os";
import { percentile, redisUrl, uniqueName, writeBenchmarkSection } from "@boxoffice/testkit";
import { Redis } from "ioredis";
import { createInMemoryFirehose, createRedisFirehose, type Firehose } from "../src/index.ts";

const LOADED_EVENTS = 20_000;
const PUBLISHERS = 64;
const PACED_EVENTS = 2_000;

interface Figures {
  name: string;
  publishPerSecond: number;
  deliveredPerSecond: number;
  loadedP50: number;
  loadedP99: number;
  pacedP50: number;
  pacedP99: number;
}

interface Payload {
  sentAt: number;
}

/** Publishes `count` events (with `publishers` awaiting publishes in parallel) while one consumer group drains them. */
async function run(firehose: Firehose, stream: string, count: number, publishers: number) {
  const latencies: number[] = [];
  let delivered = 0;
  let allDelivered!: () => void;
  const done = new Promise<void>((resolve) => (allDelivered = resolve));
  const consumer = firehose.consume<Payload>(stream, { group: "bench", consumer: "c1", batchSize: 128 }, (event) => {
    latencies.push(performance.now() - event.data.sentAt);
    if (++delivered === count) allDelivered();
  });
  await consumer.ready;
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: publishers }, async () => {
      while (next < count) {
        const i = next++;
        await firehose.publish(stream, { type: "seat.sold.v1", version: 1, key: `event-${i % 50}`, data: { sentAt: performance.now() } });
      }
    }),
  );
  const published = performance.now();
  await done;
  const finished = performance.now();
  await consumer.close();
  return {
    publishPerSecond: count / ((published - started) / 1000),
    deliveredPerSecond: count / ((finished - started) / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

async function measure(name: string, firehose: Firehose): Promise<Figures> {
  await run(firehose, uniqueName("warmup"), 1000, PUBLISHERS);
  const loaded = await run(firehose, uniqueName("loaded"), LOADED_EVENTS, PUBLISHERS);
  const paced = await run(firehose, uniqueName("paced"), PACED_EVENTS, 1);
  await firehose.close();
  const figures = { name, publishPerSecond: loaded.publishPerSecond, deliveredPerSecond: loaded.deliveredPerSecond, loadedP50: loaded.p50, loadedP99: loaded.p99, pacedP50: paced.p50, pacedP99: paced.p99 };
  console.log(name, figures);
  return figures;
}

const loadAtStart = loadavg()[0];
const url = redisUrl();
const prefix = uniqueName("bench_firehose");
const results: Figures[] = [];
try {
  results.push(await measure("Redis Streams (XADD MAXLEN ~, XREADGROUP, XACK)", createRedisFirehose({ url, prefix, maxLen: 200_000 })));
  results.push(await measure("in-memory (reference)", createInMemoryFirehose({ maxLen: 200_000 })));
} finally {
  const client = new Redis(url);
  let cursor = "0";
  do {
    const [nextCursor, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = nextCursor;
    if (keys.length) await client.del(...keys);
  } while (cursor !== "0");
  client.disconnect();
}

const n = (value: number) => Math.round(value).toLocaleString("en-US");
const ms = (value: number) => value.toFixed(2);
writeBenchmarkSection(
  "bus-firehose",
  "bus: firehose publish throughput and delivery latency",
  "npm run bench -w @boxoffice/bus -- firehose",
  [
    `One-minute load average when the run started: ${loadAtStart.toFixed(1)} (other work shares these cores; figures move with it).`,
    "",
    `Loaded: ${n(LOADED_EVENTS)} events published by ${PUBLISHERS} concurrent publishers while one consumer-group consumer (batch 128) handles and acknowledges them; latency is publish call → handler start. Paced: ${n(PACED_EVENTS)} events published one at a time. Publisher and consumer in one process, Redis 127.0.0.1.`,
    "",
    "| backend | publish (events/s) | delivered + acked (events/s) | loaded latency p50 / p99 (ms) | paced latency p50 / p99 (ms) |",
    "|---|---:|---:|---:|---:|",
    ...results.map((r) => `| ${r.name} | ${n(r.publishPerSecond)} | ${n(r.deliveredPerSecond)} | ${ms(r.loadedP50)} / ${ms(r.loadedP99)} | ${ms(r.pacedP50)} / ${ms(r.pacedP99)} |`),
  ].join("\n"),
);
