// Builds the events service from config and dependencies; never listens by itself. The same build
// runs in its own process (main.ts) or inside the embedded host beside the other services.
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createOpsReporter, createRpcClient, createRpcServer, methodsServedBy, type ChannelLayer, type Firehose } from "@boxoffice/bus";
import { createTokenVerifier, pinnedKeysFrom } from "@boxoffice/identity";
import { serviceTrust, type Logger } from "@boxoffice/runtime";
import { createIdGenerator, createShardRouter, loadShardMap, migrate, type ShardMap } from "@boxoffice/sharding";
import type { EventsConfig } from "./config.ts";
import { createOutboxRelay } from "./domain/outbox-relay.ts";
import { registerEventsHandlers } from "./handlers/rpc-handlers.ts";
import { createEventsStore, type ShardSql } from "./store/events-store.ts";

export const EVENTS_MIGRATIONS_DIR = join(fileURLToPath(new URL("../prisma/migrations", import.meta.url)));

export interface EventsDeps {
  layer: ChannelLayer;
  firehose: Firehose;
  logger: Logger;
  /** Overrides SHARD_MAP / SHARD_MAP_FILE (the embedded host and tests pass theirs). */
  shardMap?: ShardMap;
}

export interface EventsService {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Method names this service serves once started (the contract test compares them with @boxoffice/contracts). */
  servedMethods(): string[];
}

export function buildEventsService(config: EventsConfig, deps: EventsDeps): EventsService {
  const logger = deps.logger;
  const map = deps.shardMap ?? loadShardMap({ env: config.SHARD_MAP, file: config.SHARD_MAP_FILE });
  // Raw SQL only (router.sql): every query here is a hot path; no Prisma client is built.
  const router = createShardRouter({ map, createClient: () => undefined });
  const primaries = (): ShardSql[] => router.sql.all().map((s) => s.sql);
  const store = createEventsStore({
    forId: (id, options) => router.sql.forId(id, options),
    all: (options) => router.sql.all(options).map((s) => s.sql),
  });
  const ids = createIdGenerator({ nodeId: config.NODE_ID });
  const relay = createOutboxRelay({
    store,
    shards: primaries,
    firehose: deps.firehose,
    logger,
    pollMs: config.EVENTS_OUTBOX_POLL_MS,
    batchSize: config.EVENTS_OUTBOX_BATCH,
  });
  const trust = serviceTrust(config, "events");
  const client = createRpcClient({ layer: deps.layer, service: "events", defaultDeadlineMs: config.RPC_DEADLINE_MS, identity: trust.identity });
  const verifier = createTokenVerifier({ rpc: client, audience: config.IDENTITY_AUDIENCE, fetchKeys: pinnedKeysFrom(config.IDENTITY_TRUSTED_JWKS) });
  const server = createRpcServer({ layer: deps.layer, service: "events", concurrency: config.RPC_CONCURRENCY, logger, identities: trust.identities });
  // Reports to the operator console every 2 s (counters in memory; nothing on a request's path).
  const reporter = createOpsReporter({ layer: deps.layer, service: "events", rpcServer: server, router });

  return {
    async start() {
      if (config.MIGRATE_ON_START) await migrate({ map, migrationsDir: EVENTS_MIGRATIONS_DIR, service: "events", log: (line) => logger.info(line) });
      registerEventsHandlers(server, {
        store,
        verifier,
        logger,
        // A random key spreads new events evenly over the logical shards.
        newEventId: () => ids.forKey(randomUUID()),
        sectionIdOf: (eventId) => ids.childOf(eventId),
        now: () => new Date(),
        onWritten: () => relay.nudge(),
        shards: () => router.sql.all({ read: true }).map((s) => s.sql),
      });
      relay.start();
      server.start();
      reporter.start();
    },
    async stop() {
      await reporter.stop();
      await server.stop();
      await relay.stop();
      await client.close();
      await router.close();
    },
    servedMethods: () => methodsServedBy(server),
  };
}
