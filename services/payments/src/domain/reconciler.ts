// Reconciliation from the database alone: payments is the source of truth for money, so nothing
// here rests on the firehose. Each pass, on every physical shard:
//  1. pending charges older than `olderThanMs` (their request died after committing the pending
//     record): ask the processor what the key did and record it, or mark the record abandoned when
//     the processor never charged (no money moved; a retry with the key resumes it);
//  2. captured payments older than `olderThanMs` with no decided outcome: drive them to
//     confirm-or-refund through inventory's idempotent settlement (the same path as the
//     payment.captured.v1 consumer), and refund those no hold can take.
// Rows are leased (UPDATE … SKIP LOCKED with an expiry), so any number of payments instances run
// it and each row has one owner at a time; a dead owner's lease runs out and the next pass retries.
import { automaticRefundKeyOf } from "@boxoffice/contracts";
import type { Logger } from "@boxoffice/runtime";
import { abandonCharge, leaseStalePendingCharges, leaseUnsettledPayments, markSettled } from "../store/payments-store.ts";
import type { Sql } from "../store/sql.ts";
import { processorKeyOf, recordChargeOutcome, refund, type PaymentsDeps } from "./payments.ts";

export type SettleOutcome = "confirmed" | "refunded" | "unknown-hold";

/** Inventory as the reconciler sees it (inventory.settle.v1 over the bus). */
export interface SettlementPort {
  settle(input: { paymentId: string; buyerId: string; holdId: string; amountCents: number }): Promise<{ outcome: SettleOutcome; orderId: string | null }>;
}

export interface ReconcileOptions {
  /** Only records older than this are touched: younger ones still have a live request or consumer. */
  olderThanMs: number;
  /** Rows leased per shard per pass. Default 100. */
  batchSize?: number;
  /** How long a leased row is this pass's. Default 30 000. */
  leaseMs?: number;
}

export interface ReconcileReport {
  pendingRecorded: number;
  pendingAbandoned: number;
  confirmed: number;
  refunded: number;
  failed: number;
}

export interface ReconcileDeps extends PaymentsDeps {
  inventory: SettlementPort;
  logger: Pick<Logger, "warn" | "info">;
}

/** What to do with a payment inventory could not place: refund it (the decision, kept out of the stores). */
export function needsRefund(outcome: SettleOutcome | "not-a-hold"): boolean {
  return outcome === "unknown-hold";
}

async function reconcileShard(sql: Sql, options: Required<ReconcileOptions>, deps: ReconcileDeps, report: ReconcileReport): Promise<void> {
  for (const pending of await leaseStalePendingCharges(sql, options.olderThanMs, options.batchSize, options.leaseMs)) {
    try {
      const result = await deps.processor.retrieve(processorKeyOf(pending.paymentId));
      if (result) {
        await recordChargeOutcome(pending, result, deps);
        report.pendingRecorded++;
      } else {
        await abandonCharge(sql, pending.buyerId, pending.key);
        report.pendingAbandoned++;
      }
    } catch (error) {
      report.failed++;
      deps.logger.warn({ err: error, paymentId: pending.paymentId }, "reconciler: a pending charge could not be settled; the next pass retries");
    }
  }
  for (const payment of await leaseUnsettledPayments(sql, options.olderThanMs, options.batchSize, options.leaseMs)) {
    try {
      const holdId = payment.reference.holdId;
      let outcome: SettleOutcome | "not-a-hold" = "not-a-hold";
      if (holdId) {
        outcome = (await deps.inventory.settle({ paymentId: payment.id, buyerId: payment.buyerId, holdId, amountCents: payment.amountCents })).outcome;
      }
      if (needsRefund(outcome)) {
        await refund(
          { buyerId: payment.buyerId, paymentId: payment.id, idempotencyKey: automaticRefundKeyOf(payment.id), reason: "no order could be made for this payment" },
          deps,
        );
        outcome = "refunded";
      }
      await markSettled(sql, payment.id, outcome);
      if (outcome === "confirmed") report.confirmed++;
      else if (outcome === "refunded") report.refunded++;
    } catch (error) {
      report.failed++;
      deps.logger.warn({ err: error, paymentId: payment.id }, "reconciler: a captured payment could not be settled; the next pass retries");
    }
  }
}

/** One pass over every shard; a shard that is down is skipped (logged) and retried next pass. */
export async function reconcile(deps: ReconcileDeps, options: ReconcileOptions): Promise<ReconcileReport> {
  const full = { batchSize: 100, leaseMs: 30_000, ...options };
  const report: ReconcileReport = { pendingRecorded: 0, pendingAbandoned: 0, confirmed: 0, refunded: 0, failed: 0 };
  await Promise.all(
    deps.shards.all().map((sql) =>
      reconcileShard(sql, full, deps, report).catch((error: unknown) => {
        report.failed++;
        deps.logger.warn({ err: error, shard: sql.shard }, "reconciler: shard unavailable; the next pass retries");
      }),
    ),
  );
  return report;
}

export interface Reconciler {
  start(): void;
  /** Runs a pass now (or joins the one running). */
  runOnce(): Promise<ReconcileReport>;
  stop(): Promise<void>;
}

export function createReconciler(deps: ReconcileDeps, options: ReconcileOptions & { intervalMs: number }): Reconciler {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<ReconcileReport> | undefined;
  let stopped = false;
  const runOnce = (): Promise<ReconcileReport> => {
    running ??= reconcile(deps, options)
      .then((report) => {
        if (report.pendingRecorded + report.pendingAbandoned + report.confirmed + report.refunded + report.failed > 0) {
          deps.logger.info({ ...report }, "reconciler pass");
        }
        return report;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      runOnce()
        .catch((error: unknown) => deps.logger.warn({ err: error }, "reconciler pass failed; the next pass retries"))
        .finally(schedule);
    }, options.intervalMs);
    timer.unref();
  };
  return {
    start() {
      stopped = false;
      schedule();
    },
    runOnce,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}
