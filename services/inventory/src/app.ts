// Builds the inventory service from config and dependencies; never listens by itself. The same
// build runs in its own process (main.ts) or inside the embedded host beside the other services.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createOpsReporter, createRpcClient, createRpcServer, methodsServedBy, type ChannelLayer, type Consumer, type Firehose } from "@boxoffice/bus";
import { createAdmissionKeys, createTokenVerifier, pinnedKeysFrom, type TokenVerifier } from "@boxoffice/identity";
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
import { createAvailabilityPublisher } from "./availability-publisher.ts";
import type { InventoryConfig } from "./config.ts";
import { sweepExpiredHolds } from "./domain/holds.ts";
import type { CheckoutFaults, InventoryDeps, PaymentsPort } from "./domain/ports.ts";
import { startInventoryConsumers } from "./handlers/firehose-consumers.ts";
import { createPaymentsClient } from "./handlers/payments-client.ts";
import { registerInventoryHandlers } from "./handlers/rpc-handlers.ts";
import type { ShardSql } from "./store/sql.ts";

export const INVENTORY_MIGRATIONS_DIR = join(fileURLToPath(new URL("../prisma/migrations", import.meta.url)));

export interface InventoryDependencies {
  layer: ChannelLayer;
  firehose: Firehose;
  logger: Logger;
  /** Overrides SHARD_MAP / SHARD_MAP_FILE (the embedded host and tests pass theirs). */
  shardMap?: ShardMap;
  /** Overrides the token verifier (tests); default verifies with users.keys.v1 over the bus. */
  verifier?: Pick<TokenVerifier, "requireUser">;
  /** Overrides the payments client (tests). */
  payments?: PaymentsPort;
  /** Crash-test hooks in the checkout; never set in production. */
  faults?: CheckoutFaults;
}

export interface InventoryService {
  start(): Promise<void>;
  stop(): Promise<void>;
  servedMethods(): string[];
  /** Frees expired holds on every shard now (the sweeper does this every INVENTORY_SWEEP_INTERVAL_MS). */
  sweep(): Promise<number>;
}

export function buildInventoryService(config: InventoryConfig, deps: InventoryDependencies): InventoryService {
  const logger = deps.logger; // already labelled with the service by whoever built it
  const map = deps.shardMap ?? loadShardMap({ env: config.SHARD_MAP, file: config.SHARD_MAP_FILE });
  // Raw SQL only (router.sql): holds and checkouts are the hot path; no Prisma client is built.
  const router = createShardRouter({ map, createClient: () => undefined });
  const shards: ShardSql = {
    forKey: (key) => router.sql.forKey(key),
    forId: (id) => router.sql.forId(id),
    all: () => router.sql.all().map((s) => s.sql),
    logicalShardOf,
    logicalShardOfId: (id) => logicalShardOfId(id),
  };
  const ids = createIdGenerator({ nodeId: config.NODE_ID });
  const trust = serviceTrust(config, "inventory");
  const client = createRpcClient({ layer: deps.layer, service: "inventory", defaultDeadlineMs: config.RPC_DEADLINE_MS, identity: trust.identity });
  const verifier = deps.verifier ?? createTokenVerifier({ rpc: client, audience: config.IDENTITY_AUDIENCE, fetchKeys: pinnedKeysFrom(config.IDENTITY_TRUSTED_JWKS) });
  const server = createRpcServer({ layer: deps.layer, service: "inventory", concurrency: config.RPC_CONCURRENCY, logger, identities: trust.identities });
  // Reports to the operator console every 2 s (counters in memory; nothing on a request's path).
  const reporter = createOpsReporter({ layer: deps.layer, service: "inventory", rpcServer: server, router });
  const publisher = createAvailabilityPublisher({
    layer: deps.layer,
    firehose: deps.firehose,
    logger,
    coalesceMs: config.INVENTORY_AVAILABILITY_COALESCE_MS,
    shards: () => domain,
  });
  const domain: InventoryDeps = {
    shards,
    ids,
    now: () => new Date(),
    holdTtlSeconds: config.HOLD_TTL_SECONDS,
    counterSlots: config.INVENTORY_COUNTER_SLOTS,
    maxActiveHoldsPerBuyer: config.MAX_ACTIVE_HOLDS_PER_BUYER,
    holdBatchMax: config.INVENTORY_HOLD_BATCH_MAX,
    confirmBatchMax: config.INVENTORY_CONFIRM_BATCH_MAX,
    recordBatchMax: config.INVENTORY_RECORD_BATCH_MAX,
    batchWait: { ms: config.INVENTORY_BATCH_WAIT_MS, hotMs: config.INVENTORY_BATCH_HOT_MS },
    hashSecret: config.INVENTORY_HASH_SECRET,
    availability: publisher,
    payments: deps.payments ?? createPaymentsClient(client, config.RPC_DEADLINE_MS),
    faults: deps.faults,
  };

  let consumers: Consumer[] = [];
  let sweeper: ReturnType<typeof setInterval> | undefined;
  let sweeping: Promise<number> | undefined;
  const sweep = (): Promise<number> => {
    sweeping ??= sweepExpiredHolds(domain).finally(() => {
      sweeping = undefined;
    });
    return sweeping;
  };

  return {
    async start() {
      if (config.MIGRATE_ON_START) await migrate({ map, migrationsDir: INVENTORY_MIGRATIONS_DIR, service: "inventory", log: (line) => logger.info(line) });
      registerInventoryHandlers(server, { domain, verifier, admissions: config.ADMISSION_KEYS ? createAdmissionKeys(config.ADMISSION_KEYS) : undefined });
      consumers = startInventoryConsumers({
        firehose: deps.firehose,
        logger,
        consumerName: `inventory-${config.NODE_ID}-${randomBytes(4).toString("hex")}`,
        visibilityTimeoutMs: config.INVENTORY_CONSUMER_VISIBILITY_MS,
        recoveryDelayMs: config.INVENTORY_RECOVERY_DELAY_MS,
        domain,
      });
      await Promise.all(consumers.map((c) => c.ready));
      sweeper = setInterval(() => {
        sweep().catch((error: unknown) => logger.warn({ err: error }, "hold sweeper failed; next sweep retries"));
      }, config.INVENTORY_SWEEP_INTERVAL_MS);
      sweeper.unref();
      server.start();
      reporter.start();
    },
    async stop() {
      if (sweeper) clearInterval(sweeper);
      await reporter.stop();
      await server.stop();
      await Promise.all(consumers.map((c) => c.close()));
      await sweeping?.catch(() => 0);
      await publisher.close();
      await client.close();
      await router.close();
    },
    servedMethods: () => methodsServedBy(server),
    sweep,
  };
}
