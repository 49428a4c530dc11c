// Events benchmark on Redis (bus + firehose) and Postgres (2 physical shards): event-by-id reads per
// second through the bus beside the same read straight from the store (no bus: what the bus costs),
// and first pages of the upcoming list (a scatter-gather over both shards) through the bus.
// Run: npm run bench -w @boxoffice/events  (needs the real Redis and Postgres)
import { availableParallelism, loadavg } from "node:os";
import { createChannelLayer, createFirehose, createRpcClient, createRpcServer } from "@boxoffice/bus";
import { eventsCreateV1, eventsGetV1, eventsListV1, usersKeysV1 } from "@boxoffice/contracts";
import { createTokenSigner, generateSigningKey } from "@boxoffice/identity";
import { createLogger } from "@boxoffice/runtime";
import { createShardRouter, createTestShardMap } from "@boxoffice/sharding";
import { percentile, redisUrl, uniqueName, writeBenchmarkSection } from "@boxoffice/testkit";
import { buildEventsService } from "../src/app.ts";
import { eventsConfigSchema } from "../src/config.ts";
import { createEventsStore } from "../src/store/events-store.ts";

const SECONDS = 8;
const CONCURRENCY = 32;
const EVENTS = 200;

const logger = createLogger({ service: "bench", level: "silent" });
const prefix = uniqueName("events_bench");
const shards = await createTestShardMap({ kind: "postgres", physical: 2, prefix });
const layer = createChannelLayer(redisUrl(), { prefix });
const firehose = createFirehose(redisUrl(), { prefix });
const signer = await createTokenSigner({ keys: [await generateSigningKey("bench")] });
const keys = createRpcServer({ layer, service: "users" }).handle(usersKeysV1, async () => ({ keys: signer.publicKeys() }));
keys.start();
const config = eventsConfigSchema.parse({ BUS_URL: redisUrl(), BUS_PREFIX: prefix, LOG_LEVEL: "silent", RPC_CONCURRENCY: "64", NODE_ID: "4" });
const service = buildEventsService(config, { layer, firehose, logger, shardMap: shards.map });
await service.start();
const client = createRpcClient({ layer, service: "bench", defaultDeadlineMs: 30_000 });
const token = (await signer.sign({ userId: "1", role: "organizer", email: "o@example.com" })).token;

const ids: string[] = [];
for (let i = 0; i < EVENTS; i++) {
  const { event } = await client.call(
    eventsCreateV1,
    {
      title: `Bench ${i}`,
      venue: "Hall",
      startsAt: new Date(Date.now() + (i + 1) * 3_600_000).toISOString(),
      sections: [
        { name: "A", rows: 20, seatsPerRow: 25, priceCents: 4000 },
        { name: "B", rows: 10, seatsPerRow: 20, priceCents: 2500 },
      ],
    },
    { token },
  );
  ids.push(event.id);
}

async function measure(call: (i: number) => Promise<unknown>) {
  const latencies: number[] = [];
  let failures = 0;
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, worker) => {
      for (let i = worker; performance.now() < deadline; i += CONCURRENCY) {
        const t = performance.now();
        try {
          await call(i);
          latencies.push(performance.now() - t);
        } catch {
          failures++;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), failures };
}

const router = createShardRouter({ map: shards.map, createClient: () => undefined });
const store = createEventsStore({ forId: (id, o) => router.sql.forId(id, o), all: (o) => router.sql.all(o).map((s) => s.sql) });
const direct = await measure((i) => store.findById(ids[i % EVENTS], { read: true }));
const overBus = await measure((i) => client.call(eventsGetV1, { eventId: ids[i % EVENTS] }));
const listPages = await measure(() => client.call(eventsListV1, { limit: 20 }));

await router.close();
await client.close();
await service.stop();
await keys.stop();
await firehose.close();
await layer.flush();
await layer.close();
await shards.drop();

const f = (x: number) => x.toFixed(1);
const row = (name: string, r: Awaited<ReturnType<typeof measure>>) => `| ${name} | ${r.perSecond.toFixed(0)} | ${f(r.p50)} | ${f(r.p99)} | ${r.failures} |`;
const table = [
  `| scenario (${CONCURRENCY} concurrent readers, ${SECONDS} s, ${EVENTS} events) | reads/s | p50 ms | p99 ms | failed |`,
  "|---|---:|---:|---:|---:|",
  row("event by id straight from the store (no bus)", direct),
  row("event by id over the bus (events.get.v1)", overBus),
  row("first page of 20 upcoming events over the bus (events.list.v1, both shards)", listPages),
].join("\n");
console.log(table);

writeBenchmarkSection(
  "events",
  "Events: catalogue reads",
  "npm run bench -w @boxoffice/events",
  `One events instance on Redis (bus + firehose) and Postgres (2 physical shards), ${availableParallelism()} cores shared with the load generator (1-minute load average at the end of the run: ${loadavg()[0].toFixed(1)}; other work on the machine depresses every row alike).
The gap between the first two rows is the bus round trip (Redis, both ways, plus validation on both sides).

${table}`,
);
process.exit(0);
