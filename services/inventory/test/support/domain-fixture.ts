// A fixture for use-case tests: a fresh shard map (2 physical shards, Postgres or PGlite) with the
// inventory migrations applied, the router's raw SQL access, and recording fakes of the ports.
import { createIdGenerator, createShardRouter, createTestShardMap, logicalShardOf, logicalShardOfId, migrate } from "@boxoffice/sharding";
import { join } from "node:path";
import type { InventoryDeps, PaymentsPort } from "../../src/domain/ports.ts";
import type { ShardSql } from "../../src/store/sql.ts";

export const MIGRATIONS_DIR = join(import.meta.dirname, "..", "..", "prisma", "migrations");

export interface DomainFixture {
  deps: InventoryDeps;
  changed: string[];
  close(): Promise<void>;
}

export async function createDomainFixture(
  kind: "postgres" | "pglite",
  options: { payments?: PaymentsPort; holdTtlSeconds?: number; now?: () => Date; maxActiveHoldsPerBuyer?: number; holdBatchMax?: number; confirmBatchMax?: number; batchWait?: InventoryDeps["batchWait"] } = {},
): Promise<DomainFixture> {
  const shards = await createTestShardMap({ kind, physical: 2, prefix: "inv_domain" });
  await migrate({ map: shards.map, migrationsDir: MIGRATIONS_DIR, service: "inventory" });
  const router = createShardRouter({ map: shards.map, createClient: () => null, mapRefreshMs: 0 });
  const sql: ShardSql = {
    forKey: (key) => router.sql.forKey(key),
    forId: (id) => router.sql.forId(id),
    all: () => router.sql.all().map((s) => s.sql),
    logicalShardOf,
    logicalShardOfId: (id) => logicalShardOfId(id),
  };
  const changed: string[] = [];
  const deps: InventoryDeps = {
    shards: sql,
    ids: createIdGenerator({ nodeId: 1 }),
    now: options.now ?? (() => new Date()),
    holdTtlSeconds: options.holdTtlSeconds ?? 600,
    counterSlots: 4,
    maxActiveHoldsPerBuyer: options.maxActiveHoldsPerBuyer ?? 4,
    // The service's default (group commit on), so every use-case test runs the batched path.
    holdBatchMax: options.holdBatchMax ?? 64,
    confirmBatchMax: options.confirmBatchMax ?? 64,
    recordBatchMax: 64,
    // Unset (never wait for company) unless a test asks: batches here are what queued in one tick.
    batchWait: options.batchWait,
    hashSecret: "test-secret",
    availability: { changed: (eventId) => void changed.push(eventId) },
    payments: options.payments ?? {
      charge: () => Promise.reject(new Error("no payments in this test")),
      refund: () => Promise.reject(new Error("no payments in this test")),
      get: () => Promise.reject(new Error("no payments in this test")),
    },
  };
  return {
    deps,
    changed,
    async close() {
      await router.close();
      await shards.drop();
    },
  };
}
