// A fixture for payments use-case tests: a fresh shard map (2 physical shards, Postgres or PGlite)
// with the payments migrations applied, the router's raw SQL access, and a simulated processor.
import { join } from "node:path";
import { createIdGenerator, createShardRouter, createTestShardMap, logicalShardOf, logicalShardOfId, migrate } from "@boxoffice/sharding";
import type { charge, PaymentsDeps, PaymentsFaults } from "../../src/domain/payments.ts";
import { groupedProcessorBooks } from "../../src/domain/charge-batcher.ts";
import { createSimulatedProcessor, type CardProcessor } from "../../src/domain/processor.ts";
import { createSqlProcessorBooks } from "../../src/store/processor-books-store.ts";
import type { ShardSql } from "../../src/store/sql.ts";

export const MIGRATIONS_DIR = join(import.meta.dirname, "..", "..", "prisma", "migrations");

export interface PaymentsFixture {
  deps: PaymentsDeps;
  /** Rows of a query run on every physical shard. */
  queryAll<Row>(text: string, params?: unknown[]): Promise<Row[]>;
  close(): Promise<void>;
}

export interface PaymentsFixtureOptions {
  processor?: CardProcessor;
  faults?: PaymentsFaults;
  /** PAYMENTS_BATCH_MAX of the use cases (and of the SQL books). Default 1: one statement per charge. */
  batchMax?: number;
  /** Without `processor`: the simulated processor keeps its books in the payments tables, as app.ts builds it. Default: in memory. */
  sqlBooks?: boolean;
}

export async function createPaymentsFixture(kind: "postgres" | "pglite", options: PaymentsFixtureOptions = {}): Promise<PaymentsFixture> {
  const shards = await createTestShardMap({ kind, physical: 2, prefix: "pay_domain" });
  await migrate({ map: shards.map, migrationsDir: MIGRATIONS_DIR, service: "payments" });
  const router = createShardRouter({ map: shards.map, createClient: () => null, mapRefreshMs: 0 });
  const sql: ShardSql = {
    forKey: (key) => router.sql.forKey(key),
    forId: (id) => router.sql.forId(id),
    all: () => router.sql.all().map((s) => s.sql),
    logicalShardOf,
    logicalShardOfId: (id) => logicalShardOfId(id),
  };
  const batchMax = options.batchMax ?? 1;
  const books = options.sqlBooks ? groupedProcessorBooks(createSqlProcessorBooks(sql), { shards: sql, batchMax }) : undefined;
  return {
    deps: {
      shards: sql,
      ids: createIdGenerator({ nodeId: 2 }),
      now: () => new Date(),
      processor: options.processor ?? createSimulatedProcessor({ books }),
      hashSecret: "test-secret",
      outboxWritten: () => {},
      faults: options.faults,
      // A dead request's lease runs out quickly here, so a retry takes over without a long wait.
      chargeLeaseMs: 300,
      batchMax,
    },
    async queryAll<Row>(text: string, params: unknown[] = []) {
      const results = await Promise.all(sql.all().map((s) => s.query<Row>(text, params)));
      return results.flatMap((r) => r.rows);
    },
    async close() {
      await router.close();
      await shards.drop();
    },
  };
}

/** A card the simulated processor approves. */
export const GOOD = { cardNumber: "4242 4242 4242 4242", expMonth: 12, expYear: 2030, cvc: "123" };

/** A charge request for `buyerId` under idempotency `key` (5000 cents, the good card), with overrides. */
export const chargeRequest = (buyerId: string, key: string, overrides: Partial<Parameters<typeof charge>[0]> = {}) => ({
  buyerId,
  idempotencyKey: key,
  amountCents: 5000,
  currency: "usd",
  card: GOOD,
  reference: { holdId: "1", eventId: "2" },
  ...overrides,
});
