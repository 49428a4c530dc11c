// One fixture, two targets: the in-memory bus/firehose + PGlite shards, and Redis + Postgres shards.
// A stand-in users service publishes signing keys on users.keys.v1 (services never import each
// other, so the test signs its own organiser and buyer tokens).
import { createChannelLayer, createFirehose, createInMemoryChannelLayer, createRpcClient, createRpcServer, type ChannelLayer, type Firehose, type FirehoseEvent, type RpcClient } from "@boxoffice/bus";
import { usersKeysV1, type CatalogueEvent } from "@boxoffice/contracts";
import { createTokenSigner, generateSigningKey, type TokenSigner } from "@boxoffice/identity";
import { createLogger, parseConfig } from "@boxoffice/runtime";
import { createTestShardMap } from "@boxoffice/sharding";
import { redisUrl, requirePostgres, requireRedis, uniqueName } from "@boxoffice/testkit";
import { buildEventsService, eventsConfigSchema, type EventsService } from "../src/index.ts";

export interface Target {
  name: string;
  available: boolean;
  kind: "memory" | "redis";
}

const redis = await requireRedis();
const postgres = await requirePostgres();

export const targets: Target[] = [
  { name: "in-memory bus + PGlite", available: true, kind: "memory" },
  { name: "Redis bus + Postgres", available: redis.available && postgres.available, kind: "redis" },
];

export interface EventsHarness {
  client: RpcClient;
  firehose: Firehose;
  signer: TokenSigner;
  /** Every firehose event seen on stream "events", in order. */
  published: Array<FirehoseEvent<CatalogueEvent>>;
  tokenFor(userId: string, role: "buyer" | "organizer"): Promise<string>;
  startInstance(options?: { firehose?: Firehose }): Promise<EventsService>;
  stopInstance(service: EventsService): Promise<void>;
  readonly instances: EventsService[];
  close(): Promise<void>;
}

export async function startEvents(target: Target): Promise<EventsHarness> {
  const prefix = uniqueName("events");
  const shards = await createTestShardMap({ kind: target.kind === "memory" ? "pglite" : "postgres", physical: 2, prefix });
  const layer: ChannelLayer = target.kind === "memory" ? createInMemoryChannelLayer() : createChannelLayer(redisUrl(), { prefix });
  const firehose = target.kind === "memory" ? createFirehose("memory://") : createFirehose(redisUrl(), { prefix });
  const logger = createLogger({ service: "events-test", level: "silent" });

  const signer = await createTokenSigner({ keys: [await generateSigningKey("events-test")] });
  const keysServer = createRpcServer({ layer, service: "users" });
  keysServer.handle(usersKeysV1, async () => ({ keys: signer.publicKeys() }));
  keysServer.start();

  const published: Array<FirehoseEvent<CatalogueEvent>> = [];
  const subscription = firehose.subscribe<CatalogueEvent>("events", { from: "earliest" }, (event) => {
    published.push(event);
  });
  await subscription.ready;

  const instances: EventsService[] = [];
  const config = parseConfig("events", eventsConfigSchema, { BUS_PREFIX: prefix, LOG_LEVEL: "silent", EVENTS_OUTBOX_POLL_MS: "50" });
  const startInstance = async (options: { firehose?: Firehose } = {}) => {
    const service = buildEventsService(config, { layer, firehose: options.firehose ?? firehose, logger, shardMap: shards.map });
    await service.start();
    instances.push(service);
    return service;
  };
  await startInstance();
  const client = createRpcClient({ layer, service: "events-test", defaultDeadlineMs: 20_000 });
  return {
    client,
    firehose,
    signer,
    published,
    async tokenFor(userId, role) {
      return (await signer.sign({ userId, role, email: `${userId}@example.com` })).token;
    },
    startInstance,
    async stopInstance(service) {
      instances.splice(instances.indexOf(service), 1);
      await service.stop();
    },
    instances,
    async close() {
      await client.close();
      for (const instance of instances) await instance.stop();
      await keysServer.stop();
      await subscription.close();
      await firehose.close();
      await layer.close();
      await shards.drop();
    },
  };
}
