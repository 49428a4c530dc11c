// Use cases of payments: charge and refund with Stripe-style idempotency, and the buyer's ledger.
import { createHmac } from "node:crypto";
import { activeTraceparent, RpcError } from "@boxoffice/bus";
import {
  PAYMENTS_STREAM,
  paymentCapturedV1,
  paymentRefundedV1,
  type Payment,
  type PaymentCard,
  type PaymentReference,
} from "@boxoffice/contracts";
import type { GroupWait } from "@boxoffice/sharding";
import { paymentsError, PaymentsErrorCodes } from "../errors.ts";
import {
  finishCharge,
  insertRefund,
  listPayments,
  lockPayment,
  readPayment,
  readRefundOf,
  releaseCharge,
  runIdempotent,
  type PaymentRecord,
  type PendingCharge,
  type StoredReply,
} from "../store/payments-store.ts";
import type { ShardSql } from "../store/sql.ts";
import { withRetry } from "../store/sql.ts";
import { beginChargeGrouped, finishCaptureGrouped } from "./charge-batcher.ts";
import { last4Of, type CardProcessor, type ProcessorResult } from "./processor.ts";

export interface PaymentsDeps {
  shards: ShardSql;
  ids: { forKey(key: string): string; childOf(parentId: string): string };
  now: () => Date;
  processor: CardProcessor;
  /** Secret for hashing request bodies, so a stored hash never reveals a card number. */
  hashSecret: string;
  /** Called after a transaction wrote outbox rows (the relay publishes at once instead of at its next poll). */
  outboxWritten: () => void;
  /** How long a charge owns its pending record while at the processor. Default CHARGE_LEASE_MS. */
  chargeLeaseMs?: number;
  /** Most charges of one physical shard served by one grouped statement (PAYMENTS_BATCH_MAX); 1 or unset: one statement each. */
  batchMax?: number;
  /** Waiting for company when a shard is hot (PAYMENTS_BATCH_WAIT_MS, PAYMENTS_BATCH_HOT_MS); unset or ms = 0: never waits. */
  batchWait?: GroupWait;
  /** Crash-test hooks; never set in production. A hook that throws stands for the process dying there. */
  faults?: PaymentsFaults;
}

export interface PaymentsFaults {
  /** After the processor answered a charge, before its outcome is committed. */
  afterProcessorCharge?: (info: { buyerId: string; idempotencyKey: string; paymentId: string }) => void | Promise<void>;
}

function hashOf(secret: string, value: unknown): string {
  return createHmac("sha256", secret).update(JSON.stringify(value)).digest("hex");
}

function nowMs(deps: Pick<PaymentsDeps, "now">): string {
  // Milliseconds only: the ledger cursor is an ISO time and must compare exactly.
  return new Date(Math.floor(deps.now().getTime())).toISOString();
}

function answer<T>(result: Awaited<ReturnType<typeof runIdempotent>>): T {
  if (result.kind === "mismatch") {
    throw paymentsError(PaymentsErrorCodes.IDEMPOTENCY_MISMATCH, "this idempotency key was used with different parameters");
  }
  const reply: StoredReply = result.reply;
  if (reply.ok) return reply.body as T;
  throw new RpcError(reply.error.code, reply.error.message, { retryable: false, details: reply.error.details });
}

export interface ChargeInput {
  buyerId: string;
  idempotencyKey: string;
  amountCents: number;
  currency: string;
  card: PaymentCard;
  reference: PaymentReference;
}

/** How long a caller owns a pending charge while it is at the processor; others wait, then take over. */
export const CHARGE_LEASE_MS = 10_000;

/** The processor's idempotency key of a charge: its pending record's payment id, minted once. */
export function processorKeyOf(paymentId: string): string {
  return `payment:${paymentId}`;
}

function declineReply(result: Extract<ProcessorResult, { approved: false }>): StoredReply {
  return {
    ok: false,
    error: {
      code: PaymentsErrorCodes.PAYMENT_DECLINED,
      message: result.declineCode === "insufficient_funds" ? "the card was declined: insufficient funds" : result.declineCode === "invalid_number" ? "the card number is invalid" : "the card was declined",
      details: { declineCode: result.declineCode, cardLast4: result.last4 },
    },
  };
}

/**
 * Records what the processor answered for a pending charge (the request's own step three, and the
 * reconciler's for charges left pending). Idempotent: the payment id was minted with the record.
 */
export async function recordChargeOutcome(pending: PendingCharge & { buyerId: string; key: string }, result: ProcessorResult, deps: PaymentsDeps): Promise<StoredReply> {
  const sql = deps.shards.forKey(pending.buyerId);
  const logicalShard = deps.shards.logicalShardOf(pending.buyerId);
  const target = { buyerId: pending.buyerId, key: pending.key };
  if (!result.approved) return (await withRetry(() => finishCharge(sql, target, declineReply(result)))).reply;
  const payment: PaymentRecord = {
    id: pending.paymentId,
    buyerId: pending.buyerId,
    status: "captured",
    amountCents: pending.amountCents,
    refundedCents: 0,
    currency: pending.currency,
    cardLast4: pending.cardLast4,
    reference: pending.reference,
    createdAt: nowMs(deps),
  };
  const outbox = {
    id: `payment.captured:${payment.id}`,
    logicalShard,
    stream: PAYMENTS_STREAM,
    type: paymentCapturedV1.type,
    version: paymentCapturedV1.version,
    key: payment.buyerId,
    data: {
      paymentId: payment.id,
      buyerId: payment.buyerId,
      amountCents: payment.amountCents,
      currency: payment.currency,
      reference: payment.reference,
      capturedAt: payment.createdAt,
    },
    occurredAt: payment.createdAt,
    // The relay's publish and every consumer join this charge's trace.
    traceparent: activeTraceparent(),
  };
  const finished = await withRetry(() => finishCaptureGrouped(sql, { target, reply: { ok: true, body: { payment } }, capture: { payment, logicalShard, outbox } }, deps));
  if (finished.wroteOutbox) deps.outboxWritten();
  return finished.reply;
}

/**
 * Charges a card once per (buyer, idempotency key); a replay returns the first result, a decline
 * included. Three steps, so no failure can charge twice: commit a pending record (with the payment
 * id), call the processor with a key derived from it (the processor honours it like Stripe), then
 * record the outcome. A crash between the last two leaves a pending record the reconciler settles;
 * a retry in the meantime goes back to the processor with the same key and gets the same charge.
 */
export async function charge(input: ChargeInput, deps: PaymentsDeps): Promise<{ payment: Payment }> {
  const sql = deps.shards.forKey(input.buyerId);
  const logicalShard = deps.shards.logicalShardOf(input.buyerId);
  const requestHash = hashOf(deps.hashSecret, [
    input.amountCents,
    input.currency,
    input.card.cardNumber.replace(/[^0-9]/g, ""),
    input.card.expMonth,
    input.card.expYear,
    input.card.cvc,
    input.reference,
  ]);
  const scope = { buyerId: input.buyerId, key: input.idempotencyKey, logicalShard, requestHash };
  const leaseMs = deps.chargeLeaseMs ?? CHARGE_LEASE_MS;
  const fresh: PendingCharge = {
    paymentId: deps.ids.forKey(input.buyerId),
    amountCents: input.amountCents,
    currency: input.currency,
    cardLast4: last4Of(input.card.cardNumber),
    reference: input.reference,
  };
  for (;;) {
    const begun = await withRetry(() => beginChargeGrouped(sql, { scope, pending: fresh, leaseMs }, deps));
    if (begun.state === "mismatch") {
      throw paymentsError(PaymentsErrorCodes.IDEMPOTENCY_MISMATCH, "this idempotency key was used with different parameters");
    }
    if (begun.state === "done") return answer({ kind: "replayed", reply: begun.reply });
    if (begun.state === "busy") {
      // Another request with this key is at the processor: wait for its answer (or its lease to end).
      await new Promise((r) => setTimeout(r, Math.max(5, Math.min(50, begun.lockedUntil - Date.now()))));
      continue;
    }
    let result: ProcessorResult;
    try {
      result = await deps.processor.charge({ idempotencyKey: processorKeyOf(begun.pending.paymentId), card: input.card, amountCents: begun.pending.amountCents });
    } catch (error) {
      await releaseCharge(sql, input.buyerId, input.idempotencyKey).catch(() => undefined);
      throw error;
    }
    await deps.faults?.afterProcessorCharge?.({ buyerId: input.buyerId, idempotencyKey: input.idempotencyKey, paymentId: begun.pending.paymentId });
    return answer({ kind: "executed", reply: await recordChargeOutcome({ ...begun.pending, buyerId: input.buyerId, key: input.idempotencyKey }, result, deps) });
  }
}

export interface RefundInput {
  /** The payment's owner: the token's user, or (service calls) the buyer the caller names. */
  buyerId: string;
  paymentId: string;
  idempotencyKey: string;
  reason?: string;
}

/** Refunds a captured payment in full, once; refunding an already refunded payment returns that refund. */
export async function refund(input: RefundInput, deps: PaymentsDeps): Promise<{ payment: Payment; refund: { id: string; amountCents: number } }> {
  let sql;
  try {
    sql = deps.shards.forId(input.paymentId);
  } catch {
    throw paymentsError(PaymentsErrorCodes.NOT_FOUND, "no such payment", { paymentId: input.paymentId });
  }
  const logicalShard = deps.shards.logicalShardOfId(input.paymentId);
  // The processor first, outside any transaction (no connection held across it, and its books may
  // live in these databases): keyed by the payment (one refund per payment, ever), so a retry after
  // a failed commit refunds once. The transaction then records it.
  const current = await readPayment(sql, input.paymentId);
  const refundedAtProcessor = current !== undefined && current.buyerId === input.buyerId && current.status === "captured";
  if (refundedAtProcessor) await deps.processor.refund({ idempotencyKey: `refund:${current.id}`, amountCents: current.amountCents });
  let wroteOutbox = false;
  const result = await withRetry(() =>
    runIdempotent(
      sql,
      { buyerId: input.buyerId, operation: "refund", key: input.idempotencyKey, logicalShard, requestHash: hashOf(deps.hashSecret, [input.paymentId]) },
      async (tx): Promise<StoredReply> => {
        const payment = await lockPayment(tx, input.paymentId);
        if (!payment || payment.buyerId !== input.buyerId) {
          return { ok: false, error: { code: PaymentsErrorCodes.NOT_FOUND, message: "no such payment", details: { paymentId: input.paymentId } } };
        }
        const earlier = await readRefundOf(tx, payment.id);
        if (earlier) return { ok: true, body: { payment, refund: earlier } };
        // Refunded at the processor above; a payment that was not refundable then is not recorded now.
        if (!refundedAtProcessor) throw new Error(`payment ${payment.id} became refundable during its refund; retry`);
        const refundId = deps.ids.childOf(payment.id);
        const updated = await insertRefund(
          tx,
          { id: refundId, paymentId: payment.id, buyerId: payment.buyerId, logicalShard, amountCents: payment.amountCents, reason: input.reason },
          {
            id: `payment.refunded:${payment.id}`,
            logicalShard,
            stream: PAYMENTS_STREAM,
            type: paymentRefundedV1.type,
            version: paymentRefundedV1.version,
            key: payment.buyerId,
            data: { paymentId: payment.id, buyerId: payment.buyerId, refundId, amountCents: payment.amountCents, reference: payment.reference },
            occurredAt: nowMs(deps),
            traceparent: activeTraceparent(),
          },
        );
        wroteOutbox = true;
        return { ok: true, body: { payment: updated, refund: { id: refundId, amountCents: payment.amountCents } } };
      },
    ),
  );
  if (wroteOutbox) deps.outboxWritten();
  return answer(result);
}

/** One payment by id (payments.get.v1: inventory checks a firehose event against it); NOT_FOUND otherwise. */
export async function getPayment(paymentId: string, deps: Pick<PaymentsDeps, "shards">): Promise<{ payment: Payment }> {
  let sql;
  try {
    sql = deps.shards.forId(paymentId);
  } catch {
    throw paymentsError(PaymentsErrorCodes.NOT_FOUND, "no such payment", { paymentId });
  }
  const payment = await readPayment(sql, paymentId);
  if (!payment) throw paymentsError(PaymentsErrorCodes.NOT_FOUND, "no such payment", { paymentId });
  return { payment };
}

interface LedgerCursor {
  createdAt: string;
  id: string;
}

export async function listLedger(
  input: { buyerId: string; limit: number; cursor?: string },
  deps: Pick<PaymentsDeps, "shards">,
): Promise<{ payments: Payment[]; nextCursor: string | null }> {
  let before: LedgerCursor | undefined;
  if (input.cursor) {
    try {
      before = JSON.parse(Buffer.from(input.cursor, "base64url").toString("utf8")) as LedgerCursor;
      if (typeof before.createdAt !== "string" || Number.isNaN(Date.parse(before.createdAt)) || typeof before.id !== "string") throw new Error("shape");
    } catch {
      throw paymentsError(PaymentsErrorCodes.VALIDATION_FAILED, "cursor is not one this service issued", { fields: ["cursor"] });
    }
  }
  const rows = await listPayments(deps.shards.forKey(input.buyerId), input.buyerId, input.limit + 1, before);
  const page = rows.slice(0, input.limit);
  const last = page[page.length - 1];
  return {
    payments: page,
    nextCursor: rows.length > input.limit && last ? Buffer.from(JSON.stringify({ createdAt: last.createdAt, id: last.id })).toString("base64url") : null,
  };
}
