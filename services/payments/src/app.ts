// Builds the payments service from config and dependencies; never listens by itself. The same
// build runs in its own process (main.ts) or inside the embedded host beside the other services.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createOpsReporter, createRpcClient, createRpcServer, methodsServedBy, type ChannelLayer, type Firehose } from "@boxoffice/bus";
import { createTokenVerifier, pinnedKeysFrom, type TokenVerifier } from "@boxoffice/identity";
import { serviceTrust, type Logger } from "@boxoffice/runtime";
import {
  createIdGenerator,
  createShardRouter,
  loadShardMap,
  logicalShardOf,
  logicalShardOfId,
 
  migrate,
  type ShardMap,
} from "@boxoffice/sharding";
import type { PaymentsConfig } from "./config.ts";
import { groupedProcessorBooks } from "./domain/charge-batcher.ts";
import { createOutboxRelay } from "./domain/outbox-relay.ts";
import { createSimulatedProcessor, type CardProcessor } from "./domain/processor.ts";
import { createReconciler, type ReconcileReport } from "./domain/reconciler.ts";
import { createInventorySettlementClient } from "./handlers/inventory-client.ts";
import { registerPaymentsHandlers } from "./handlers/rpc-handlers.ts";
import { createSqlProcessorBooks } from "./store/processor-books-store.ts";
import type { ShardSql } from "./store/sql.ts";

export const PAYMENTS_MIGRATIONS_DIR = join(fileURLToPath(new URL("../prisma/migrations", import.meta.url)));

export interface PaymentsDependencies {
  layer: ChannelLayer;
  firehose: Firehose;
  logger: Logger;
  /** Overrides SHARD_MAP / SHARD_MAP_FILE (the embedded host and tests pass theirs). */
  shardMap?: ShardMap;
  /** Overrides the token verifier (tests); default verifies with users.keys.v1 over the bus. */
  verifier?: Pick<TokenVerifier, "requireUser">;
  /** Overrides the simulated processor (tests). */
  processor?: CardProcessor;
}

export interface PaymentsService {
  start(): Promise<void>;
  stop(): Promise<void>;
  servedMethods(): string[];
  /** Runs a reconciler pass now (it runs every PAYMENTS_RECONCILE_INTERVAL_MS by itself). */
  reconcile(): Promise<ReconcileReport>;
}

export function buildPaymentsService(config: PaymentsConfig, deps: PaymentsDependencies): PaymentsService {
  const logger = deps.logger; // already labelled with the service by whoever built it
  const map = deps.shardMap ?? loadShardMap({ env: config.SHARD_MAP, file: config.SHARD_MAP_FILE });
  // Raw SQL only (router.sql): every query here is short and hand-written; no Prisma client is built.
  const router = createShardRouter({ map, createClient: () => undefined });
  const shards: ShardSql = {
    forKey: (key) => router.sql.forKey(key),
    forId: (id) => router.sql.forId(id),
    all: () => router.sql.all().map((s) => s.sql),
    logicalShardOf,
    logicalShardOfId: (id) => logicalShardOfId(id),
  };
  const ids = createIdGenerator({ nodeId: config.NODE_ID });
  const relay = createOutboxRelay({ shards: shards.all, firehose: deps.firehose, logger, pollMs: config.PAYMENTS_OUTBOX_POLL_MS, nudgeDelayMs: config.PAYMENTS_OUTBOX_NUDGE_DELAY_MS });
  const trust = serviceTrust(config, "payments");
  const client = createRpcClient({ layer: deps.layer, service: "payments", defaultDeadlineMs: config.RPC_DEADLINE_MS, identity: trust.identity });
  const verifier = deps.verifier ?? createTokenVerifier({ rpc: client, audience: config.IDENTITY_AUDIENCE, fetchKeys: pinnedKeysFrom(config.IDENTITY_TRUSTED_JWKS) });
  // Refunds are for inventory, or for an organiser through any service (the token's role decides).
  const userRole = async (token: string | undefined) => (await verifier.requireUser({ token }).catch(() => undefined))?.role;
  const server = createRpcServer({ layer: deps.layer, service: "payments", concurrency: config.RPC_CONCURRENCY, logger, identities: trust.identities, userRole });
  // Reports to the operator console every 2 s (counters in memory; nothing on a request's path).
  const reporter = createOpsReporter({ layer: deps.layer, service: "payments", rpcServer: server, router });
  // Charges of one physical shard that arrive together share their statements (charge-batcher.ts).
  const batchWait = { ms: config.PAYMENTS_BATCH_WAIT_MS, hotMs: config.PAYMENTS_BATCH_HOT_MS };
  // The simulated processor keeps its books in its own table, so every instance honours one key.
  const processor =
    deps.processor ??
    createSimulatedProcessor({
      latencyMs: config.PAYMENTS_LATENCY_MS,
      failRate: config.PAYMENTS_FAIL_RATE,
      books: groupedProcessorBooks(createSqlProcessorBooks(shards), { shards, batchMax: config.PAYMENTS_BATCH_MAX, batchWait }),
    });

  const domain = {
    shards,
    ids,
    now: () => new Date(),
    processor,
    hashSecret: config.PAYMENTS_HASH_SECRET,
    outboxWritten: () => relay.nudge(),
    batchMax: config.PAYMENTS_BATCH_MAX,
    batchWait,
  };
  const reconciler = createReconciler(
    { ...domain, inventory: createInventorySettlementClient(client, config.RPC_DEADLINE_MS), logger },
    { intervalMs: config.PAYMENTS_RECONCILE_INTERVAL_MS, olderThanMs: config.PAYMENTS_RECONCILE_AFTER_MS },
  );

  return {
    async start() {
      if (config.MIGRATE_ON_START) await migrate({ map, migrationsDir: PAYMENTS_MIGRATIONS_DIR, service: "payments", log: (line) => logger.info(line) });
      registerPaymentsHandlers(server, { domain, verifier, shards: shards.all });
      relay.start();
      server.start();
      reporter.start();
      reconciler.start();
    },
    async stop() {
      await reconciler.stop();
      await reporter.stop();
      await server.stop();
      await relay.stop();
      await client.close();
      await router.close();
    },
    servedMethods: () => methodsServedBy(server),
    reconcile: () => reconciler.runOnce(),
  };
}
