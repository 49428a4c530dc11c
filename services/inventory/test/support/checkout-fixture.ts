// The whole purchase path for tests: N inventory and N payments instances (build…() twice on the
// same bus and databases), real identity tokens, and helpers to seat events and read the ledgers.
// One fixture, two targets: in-memory bus + firehose + PGlite, or Redis + Postgres.
import { randomUUID } from "node:crypto";
import { createChannelLayer, createFirehose, createRpcClient, type ChannelLayer, type Firehose, type RpcClient } from "@boxoffice/bus";
import { eventUpdatedV1, EVENTS_STREAM, type CatalogueEvent } from "@boxoffice/contracts";
import { createTokenSigner, createTokenVerifier, generateSigningKey, type TokenSigner } from "@boxoffice/identity";
// eslint-disable-next-line @nx/enforce-module-boundaries -- the checkout invariants need the real payments service beside inventory (as the embedded host runs them); tests only
import { buildPaymentsService, paymentsConfigSchema, type PaymentsService } from "@boxoffice/payments";
import { createLogger, type Logger } from "@boxoffice/runtime";
import { createIdGenerator, createTestShardMap, type TestShardMap } from "@boxoffice/sharding";
import { redisUrl, uniqueName, waitFor } from "@boxoffice/testkit";
import { buildInventoryService, type InventoryService } from "../../src/app.ts";
import { inventoryConfigSchema } from "../../src/config.ts";
import type { CheckoutFaults } from "../../src/domain/ports.ts";
import { openRaw } from "./raw-sql.ts";

export type Target = "memory" | "redis";

export interface CheckoutFixtureOptions {
  instances?: number;
  holdTtlSeconds?: number;
  sweepIntervalMs?: number;
  /** Fault hooks per inventory instance index. */
  faults?: (index: number) => CheckoutFaults | undefined;
  paymentsLatencyMs?: number;
  /** The waiting room's admission keys (inventory's ADMISSION_KEYS): holds then need a signed admission. */
  admissionKeys?: string;
  /** Age after which payments' reconciler settles a captured payment (default: the service's 60 s). */
  reconcileAfterMs?: number;
  reconcileIntervalMs?: number;
  /** Wraps the firehose the payments instances publish to (to lose their events). */
  paymentsFirehose?: (firehose: Firehose) => Firehose;
  /** Where the inventory instances log (default: silent). */
  inventoryLogger?: Logger;
}

export interface CheckoutFixture {
  rpc: RpcClient;
  layer: ChannelLayer;
  firehose: Firehose;
  inventories: InventoryService[];
  payments: PaymentsService[];
  shards: TestShardMap;
  tokenFor(buyerId: string): Promise<string>;
  /** Publishes an on-sale event with the given sections and waits until its seats exist. */
  createEvent(sections: Array<{ name: string; rows: number; seatsPerRow: number; priceCents: number }>): Promise<CatalogueEvent>;
  /** Raw SQL on every physical shard (both services' schemas live on the same databases). */
  queryAll<Row>(text: string, params?: unknown[]): Promise<Row[]>;
  close(): Promise<void>;
}

const logger = createLogger({ service: "test", level: "silent" });
const eventIds = createIdGenerator({ nodeId: 31 });

export async function createCheckoutFixture(target: Target, options: CheckoutFixtureOptions = {}): Promise<CheckoutFixture> {
  const prefix = uniqueName("inv");
  const shards = await createTestShardMap({ kind: target === "redis" ? "postgres" : "pglite", physical: 2, prefix: "inv_checkout" });
  const layer: ChannelLayer = createChannelLayer(target === "redis" ? redisUrl() : "memory://", { prefix });
  const firehose: Firehose = createFirehose(target === "redis" ? redisUrl() : "memory://", { prefix });
  const signer: TokenSigner = await createTokenSigner({ keys: [await generateSigningKey("test-key")] });
  const verifier = createTokenVerifier({ fetchKeys: async () => signer.publicKeys() });
  const instances = options.instances ?? 2;
  const env = (index: number) => ({
    NODE_ID: String(index + 1),
    LOG_LEVEL: "silent",
    // Generous deadlines: on a loaded 2-core CI machine a burst of 500 buyers queues for a while.
    RPC_DEADLINE_MS: "60000",
    HOLD_TTL_SECONDS: String(options.holdTtlSeconds ?? 600),
    INVENTORY_SWEEP_INTERVAL_MS: String(options.sweepIntervalMs ?? 200),
    INVENTORY_CONSUMER_VISIBILITY_MS: "2000",
    PAYMENTS_LATENCY_MS: String(options.paymentsLatencyMs ?? 0),
    PAYMENTS_OUTBOX_POLL_MS: "50",
    ...(options.admissionKeys ? { ADMISSION_KEYS: options.admissionKeys } : {}),
    ...(options.reconcileAfterMs === undefined ? {} : { PAYMENTS_RECONCILE_AFTER_MS: String(options.reconcileAfterMs) }),
    ...(options.reconcileIntervalMs === undefined ? {} : { PAYMENTS_RECONCILE_INTERVAL_MS: String(options.reconcileIntervalMs) }),
  });
  const paymentsFirehose = options.paymentsFirehose?.(firehose) ?? firehose;
  const payments = Array.from({ length: instances }, (_, i) =>
    buildPaymentsService(paymentsConfigSchema.parse({ ...env(i), NODE_ID: String(i + 11) }), { layer, firehose: paymentsFirehose, logger, shardMap: shards.map, verifier }),
  );
  const inventories = Array.from({ length: instances }, (_, i) =>
    buildInventoryService(inventoryConfigSchema.parse(env(i)), { layer, firehose, logger: options.inventoryLogger ?? logger, shardMap: shards.map, verifier, faults: options.faults?.(i) }),
  );
  // One at a time: migrations of one service must not race on a fresh database.
  for (const service of [...payments, ...inventories]) await service.start();
  const rpc = createRpcClient({ layer, service: "test", defaultDeadlineMs: 120_000 });
  const raw = openRaw(shards.map);

  return {
    rpc,
    layer,
    firehose,
    inventories,
    payments,
    shards,
    async tokenFor(buyerId) {
      return (await signer.sign({ userId: buyerId, role: "buyer", email: `${buyerId}@example.test` })).token;
    },
    async createEvent(sections) {
      const id = eventIds.forKey(randomUUID());
      const now = new Date().toISOString();
      const event: CatalogueEvent = {
        id,
        organizerId: "1",
        title: "Test event",
        venue: "Test hall",
        startsAt: new Date(Date.now() + 86_400_000).toISOString(),
        status: "on_sale",
        sections: sections.map((s) => ({ ...s, id: eventIds.childOf(id), capacity: s.rows * s.seatsPerRow })),
        capacity: sections.reduce((sum, s) => sum + s.rows * s.seatsPerRow, 0),
        minPriceCents: Math.min(...sections.map((s) => s.priceCents)),
        version: 1,
        createdAt: now,
        updatedAt: now,
      };
      await firehose.publish(EVENTS_STREAM, { type: eventUpdatedV1.type, version: eventUpdatedV1.version, key: id, data: event, id: `${id}:v1` });
      await waitFor(async () => (await raw.query(`SELECT 1 FROM inventory.event_seating WHERE event_id = $1`, [id])).length > 0, {
        timeoutMs: 30_000,
        what: `seats of event ${id}`,
      });
      return event;
    },
    queryAll: (text, params) => raw.query(text, params),
    async close() {
      await rpc.close();
      for (const service of [...inventories, ...payments]) await service.stop();
      await raw.close();
      await firehose.close();
      await layer.flush().catch(() => {});
      await layer.close();
      await shards.drop();
    },
  };
}
