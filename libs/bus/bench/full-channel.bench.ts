// Calls that meet a full request channel: how long a burst of patient callers takes to get through
// a busy server, waiting in line (`waitForCapacity`: one line per channel, one prober) against each
// call retrying on its own on BUSY with full jitter up to 500 ms (what `waitForCapacity` did before:
// rebuilt here from the outside, so both run in one process, on one Redis, in the same minutes).
// The shape of the on-sale's checkout: a service with a few handlers in progress (its RPC
// concurrency), a channel of limited capacity in front of it, and more calls at once than both hold.
// `npm run bench -w @boxoffice/bus -- full-channel`
import { loadavg } from "node:os";
import { percentile, startPrivateRedis, uniqueName, writeBenchmarkSection } from "@boxoffice/testkit";
import { Redis } from "ioredis";
import { z } from "zod";
import { createRedisChannelLayer, createRpcClient, createRpcServer, defineMethod, RpcErrorCodes, type RpcClient } from "../src/index.ts";

const CONCURRENCY = 8;
const CAPACITY = 16;
const HANDLER_MS = 2;
const BURST = 200;
const BURSTS = Number(process.env.BENCH_BURSTS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const workV1 = defineMethod({ name: "busy.work.v1", request: z.object({ n: z.number() }), response: z.object({ n: z.number() }) });
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The retry loop `waitForCapacity` ran per call before the line (rpc-client.ts before 8338f9c). */
async function retryWithJitter(client: RpcClient, n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (let attempt = 0; ; attempt++) {
    try {
      await client.call(workV1, { n }, { deadlineMs: deadline - Date.now() });
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== RpcErrorCodes.BUSY) throw error;
      const delay = Math.random() * Math.min(500, 5 * 2 ** attempt);
      if (Date.now() + delay >= deadline) throw error;
      await sleep(delay);
    }
  }
}

type Strategy = "line" | "jitter";

const redis = await startPrivateRedis();
const prefix = uniqueName("bench_full");
const admin = new Redis(redis.url);
const serverLayer = createRedisChannelLayer({ hosts: [redis.url], prefix, channelCapacity: [["busy.rpc", CAPACITY]] });
const clientLayer = createRedisChannelLayer({ hosts: [redis.url], prefix, channelCapacity: [["busy.rpc", CAPACITY]] });
const server = createRpcServer({ layer: serverLayer, service: "busy", concurrency: CONCURRENCY });
server.handle(workV1, async ({ n }) => {
  await sleep(HANDLER_MS);
  return { n };
});
server.start();
const client = createRpcClient({ layer: clientLayer, service: "bench" });
await client.call(workV1, { n: 0 });

async function commandsSoFar(): Promise<number> {
  const info = await admin.info("commandstats");
  let calls = 0;
  for (const match of info.matchAll(/calls=(\d+)/g)) calls += Number(match[1]);
  return calls;
}

interface Sample {
  latencies: number[];
  burstMs: number[];
  commands: number;
  calls: number;
}
const samples: Record<Strategy, Sample> = { line: { latencies: [], burstMs: [], commands: 0, calls: 0 }, jitter: { latencies: [], burstMs: [], commands: 0, calls: 0 } };

async function burst(strategy: Strategy): Promise<void> {
  const sample = samples[strategy];
  const before = await commandsSoFar();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: BURST }, async (_, n) => {
      const at = performance.now();
      if (strategy === "line") await client.call(workV1, { n }, { waitForCapacity: true, deadlineMs: 10_000 });
      else await retryWithJitter(client, n);
      sample.latencies.push(performance.now() - at);
    }),
  );
  sample.burstMs.push(performance.now() - started);
  // The INFO call itself is one command; taken out.
  sample.commands += (await commandsSoFar()) - before - 1;
  sample.calls += BURST;
}

const loads = [loadavg()[0]];
for (let round = 0; round < ROUNDS; round++) {
  const order: Strategy[] = round % 2 === 0 ? ["line", "jitter"] : ["jitter", "line"];
  for (let b = 0; b < BURSTS; b++) for (const strategy of order) await burst(strategy);
  loads.push(loadavg()[0]);
}
await client.close();
await server.stop();
await Promise.all([clientLayer.close(), serverLayer.close()]);
admin.disconnect();
await redis.stop();

const ideal = (BURST / CONCURRENCY) * HANDLER_MS;
const fmt = (ms: number) => ms.toFixed(1);
const row = (name: string, s: Sample) =>
  `| ${name} | ${fmt(percentile(s.latencies, 50))} | ${fmt(percentile(s.latencies, 99))} | ${fmt(Math.max(...s.latencies))} | ${fmt(percentile(s.burstMs, 50))} | ${(s.commands / s.calls).toFixed(1)} |`;
const markdown = [
  `A private Redis 7 (loopback, no persistence); server and caller in this process. A server with ${CONCURRENCY} handlers in progress at most (RPC concurrency), each taking ${HANDLER_MS} ms, behind a request channel of capacity ${CAPACITY}; bursts of ${BURST} calls at once (a burst ends when every call has its answer), ${BURSTS} bursts per strategy per round, ${ROUNDS} rounds, the strategies alternating (order rotated each round). At best a burst takes ${BURST} / ${CONCURRENCY} × ${HANDLER_MS} ms = ${ideal} ms. Load average (1 min) during the run: ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}.`,
  "",
  "| calls that find the channel full | call p50 (ms) | call p99 (ms) | slowest call (ms) | burst, p50 (ms) | Redis commands per call |",
  "|---|---:|---:|---:|---:|---:|",
  row("wait in line (`waitForCapacity`: one line per channel, one prober every 1–20 ms)", samples.line),
  row("each retries on BUSY with full jitter up to 500 ms (`waitForCapacity` before)", samples.jitter),
].join("\n");
console.log(markdown);
writeBenchmarkSection("bus-full-channel", "bus: calls that meet a full request channel", "npm run bench -w @boxoffice/bus -- full-channel", markdown);
