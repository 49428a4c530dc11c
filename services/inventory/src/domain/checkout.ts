// Checkout: hold → charge → confirm, and the recovery that finishes it when the orchestrator dies.
//
// Every step is idempotent on its own, so any replay (the client's, or the firehose's) converges:
// the charge is idempotent by a key derived from the client's Idempotency-Key and the hold; the
// confirmation is decided once per payment (payment_outcomes) under the hold's row lock; a payment
// that cannot be confirmed is refunded with a key derived from the payment.
import { createHmac, randomBytes } from "node:crypto";
import { RpcError, type RpcContext } from "@boxoffice/bus";
import { automaticRefundKeyOf, type Order, type Payment, type PaymentCard } from "@boxoffice/contracts";
import { inventoryError, InventoryErrorCodes } from "../errors.ts";
import type { StoredReply } from "../store/checkout-store.ts";
import { readHold, readHoldAndOrderId } from "../store/hold-store.ts";
import { listOrders, readOrder, readOrderOfHold, voidRefundedOrder, type OrderRecord, type PaymentOutcomeRecord } from "../store/order-store.ts";
import { withRetry } from "../store/sql.ts";
import { beginCheckoutGrouped, finishCheckoutGrouped } from "./checkout-record-batcher.ts";
import { confirmHoldGrouped } from "./confirm-batcher.ts";
import { eventShard } from "./holds.ts";
import { readPaymentOutcomeGrouped } from "./outcome-reads.ts";
import type { InventoryDeps } from "./ports.ts";

// Errors that are the answer to the request (stored and replayed); anything else (bus down, a
// deadline) is left unrecorded so a retry runs the request again.
const FINAL_CODES = new Set<string>([
  InventoryErrorCodes.NOT_FOUND,
  InventoryErrorCodes.HOLD_EXPIRED,
  InventoryErrorCodes.PAYMENT_DECLINED,
  InventoryErrorCodes.VALIDATION_FAILED,
]);

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** 128 random bits in base32 (26 characters): a ticket code nobody can guess. */
export function newTicketCode(): string {
  const bytes = randomBytes(16);
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

export function toOrder(record: OrderRecord): Order {
  return {
    id: record.id,
    status: record.status,
    eventId: record.eventId,
    holdId: record.holdId,
    paymentId: record.paymentId,
    tickets: record.tickets,
    totalCents: record.totalCents,
    createdAt: record.createdAt,
  };
}

/** A keyed hash of the request body: equal bodies match, and no card number is recoverable from it. */
export function checkoutRequestHash(secret: string, holdId: string, payment: PaymentCard): string {
  const canonical = JSON.stringify([holdId, payment.cardNumber.replace(/[ -]/g, ""), payment.expMonth, payment.expYear, payment.cvc]);
  return createHmac("sha256", secret).update(canonical).digest("hex");
}

export function paymentKeyFor(holdId: string, idempotencyKey: string): string {
  return `checkout:${holdId}:${idempotencyKey}`;
}

export function refundKeyFor(paymentId: string): string {
  return automaticRefundKeyOf(paymentId);
}

function replay(reply: StoredReply): Order {
  if (reply.ok) return reply.body as Order;
  throw new RpcError(reply.error.code, reply.error.message, { retryable: false, details: reply.error.details });
}

export interface OrderRequest {
  buyerId: string;
  holdId: string;
  idempotencyKey: string;
  payment: PaymentCard;
}

/** `inventory.order.v1`: the whole checkout, exactly once per (buyer, Idempotency-Key). */
export async function placeOrder(input: OrderRequest, context: RpcContext | undefined, deps: InventoryDeps): Promise<Order> {
  const buyerSql = deps.shards.forKey(input.buyerId);
  const requestHash = checkoutRequestHash(deps.hashSecret, input.holdId, input.payment);
  // The hold is read while the request is recorded (two shards, no order between them): one round
  // trip fewer on the checkout's path. A replay answered from the record never looks at it.
  const holdRead = (async () => readHoldAndOrderId(eventShard(deps, input.holdId, "hold"), input.holdId))();
  holdRead.catch(() => {}); // awaited (and its error handled) in runCheckout
  const begun = await beginCheckoutGrouped(
    buyerSql,
    {
      buyerId: input.buyerId,
      idempotencyKey: input.idempotencyKey,
      logicalShard: deps.shards.logicalShardOf(input.buyerId),
      requestHash,
      holdId: input.holdId,
    },
    deps,
  );
  if (begun.state === "mismatch") {
    throw inventoryError(InventoryErrorCodes.IDEMPOTENCY_MISMATCH, "this Idempotency-Key was used with a different request");
  }
  if (begun.state === "done") return replay(begun.reply);
  // "new", or "in_progress" (a concurrent replay, or one whose orchestrator died): run it; every
  // step below is idempotent, so running twice charges and confirms once.
  try {
    const order = await runCheckout(input, holdRead, context, deps);
    await finishCheckoutGrouped(buyerSql, input.buyerId, input.idempotencyKey, { ok: true, body: order }, deps);
    return order;
  } catch (error) {
    if (error instanceof RpcError && FINAL_CODES.has(error.code)) {
      await finishCheckoutGrouped(
        buyerSql,
        input.buyerId,
        input.idempotencyKey,
        { ok: false, error: { code: error.code, message: error.message, details: error.details } },
        deps,
      );
    }
    throw error;
  }
}

async function runCheckout(
  input: OrderRequest,
  holdRead: ReturnType<typeof readHoldAndOrderId>,
  context: RpcContext | undefined,
  deps: InventoryDeps,
): Promise<Order> {
  const sql = eventShard(deps, input.holdId, "hold");
  const found = await holdRead;
  if (!found || found.hold.buyerId !== input.buyerId) throw inventoryError(InventoryErrorCodes.NOT_FOUND, "no such hold of yours", { holdId: input.holdId });
  const { hold } = found;
  const existing = found.orderId === null ? undefined : await readOrderOfHold(sql, hold.id);
  if (existing?.status === "confirmed") return toOrder(existing);
  if (existing || hold.status !== "active" || Date.parse(hold.expiresAt) <= deps.now().getTime()) {
    throw inventoryError(InventoryErrorCodes.HOLD_EXPIRED, "the hold expired before the order", { holdId: hold.id, expiresAt: hold.expiresAt });
  }

  let paymentId: string;
  try {
    const payment = await deps.payments.charge(
      {
        idempotencyKey: paymentKeyFor(hold.id, input.idempotencyKey),
        amountCents: hold.totalCents,
        card: input.payment,
        reference: { holdId: hold.id, eventId: hold.eventId },
      },
      context,
    );
    paymentId = payment.id;
  } catch (error) {
    if (error instanceof RpcError && error.code === InventoryErrorCodes.PAYMENT_DECLINED) {
      // The seats stay held until the hold runs out: the buyer may try another card.
      throw inventoryError(InventoryErrorCodes.PAYMENT_DECLINED, error.message, { holdId: hold.id, ...(error.details as object | undefined) });
    }
    throw error;
  }
  await deps.faults?.afterCharge?.({ holdId: hold.id, paymentId });

  const result = await settlePayment({ holdId: hold.id, paymentId, amountCents: hold.totalCents }, deps);
  if (result.kind !== "confirmed") {
    throw inventoryError(InventoryErrorCodes.HOLD_EXPIRED, "the hold expired and its seats were sold before the order; the payment is refunded", {
      holdId: hold.id,
      paymentId,
      orderId: result.kind === "refunded" ? result.order?.id : undefined,
      refunded: true,
    });
  }
  await deps.faults?.afterConfirm?.({ holdId: hold.id, orderId: result.order.id });
  return toOrder(result.order);
}

export type SettleResult = { kind: "confirmed"; order: OrderRecord } | { kind: "refunded"; order?: OrderRecord } | { kind: "ignored" };

/**
 * Turns a captured payment into tickets, or refunds it. Used by the checkout, by the
 * `payment.captured.v1` consumer and by payments' reconciler (`inventory.settle.v1`); whichever
 * comes second finds the decision already made. With `buyerId`, a hold of another buyer is not
 * this payment's to confirm (`ignored`: the caller refunds it).
 */
export async function settlePayment(
  input: { holdId: string; paymentId: string; amountCents: number; buyerId?: string; firehoseEventId?: string },
  deps: InventoryDeps,
): Promise<SettleResult> {
  const sql = eventShard(deps, input.holdId, "hold");
  if (input.buyerId !== undefined) {
    const hold = await readHold(sql, input.holdId);
    if (!hold || hold.buyerId !== input.buyerId) return { kind: "ignored" };
  }
  const outcome = await confirmHoldGrouped(
    sql,
    {
      holdId: input.holdId,
      paymentId: input.paymentId,
      amountCents: input.amountCents,
      eventId: input.firehoseEventId,
      newOrderId: (holdId) => deps.ids.childOf(holdId),
      newTicketId: (holdId) => deps.ids.childOf(holdId),
      newTicketCode,
    },
    deps,
  );
  if (outcome.kind === "unknown-hold") return { kind: "ignored" };
  if (outcome.kind === "confirmed") {
    if (outcome.seatsRetaken) deps.availability.changed(outcome.order.eventId);
    return { kind: "confirmed", order: outcome.order };
  }
  await deps.payments.refund({
    paymentId: input.paymentId,
    buyerId: outcome.buyerId,
    idempotencyKey: refundKeyFor(input.paymentId),
    reason: outcome.reason,
  });
  return { kind: "refunded", order: outcome.order };
}

/**
 * Whether a recorded decision already settles this payment for this buyer's hold: only a
 * confirmation is final for recovery; a refund decision goes the full way again, so the refund call
 * (idempotent) is repeated should the first one have been lost.
 */
export function alreadyConfirmed(decided: PaymentOutcomeRecord | undefined, input: { holdId: string; buyerId: string }): decided is PaymentOutcomeRecord & { orderId: string } {
  return decided?.outcome === "confirmed" && decided.holdId === input.holdId && decided.buyerId === input.buyerId && decided.orderId !== null;
}

/**
 * Whether payments' own record of a payment bears out what a `payment.captured.v1` claims: the
 * payment exists, is captured (not refunded), and is this buyer's, this amount, for this hold.
 */
export function paymentConfirmsCapture(
  payment: Pick<Payment, "buyerId" | "status" | "amountCents" | "reference"> | undefined,
  claim: { holdId: string; buyerId: string; amountCents: number },
): boolean {
  return (
    payment !== undefined &&
    payment.status === "captured" &&
    payment.buyerId === claim.buyerId &&
    payment.amountCents === claim.amountCents &&
    payment.reference.holdId === claim.holdId
  );
}

/** Whether payments has this payment refunded, for this hold (and this buyer, when named). */
export function paymentConfirmsRefund(
  payment: Pick<Payment, "buyerId" | "status" | "reference"> | undefined,
  claim: { holdId: string; buyerId?: string },
): boolean {
  return (
    payment !== undefined &&
    payment.status === "refunded" &&
    payment.reference.holdId === claim.holdId &&
    (claim.buyerId === undefined || payment.buyerId === claim.buyerId)
  );
}

/**
 * Settlement for recovery (the payment.captured.v1 consumer, payments' reconciler through
 * inventory.settle.v1): both arrive for every payment, nearly always after the checkout confirmed
 * it, so a confirmed decision is answered from one lock-free read instead of a transaction that
 * queues on the hold's row lock; anything else is settled in full.
 */
export async function settleCapturedPayment(
  input: { holdId: string; paymentId: string; amountCents: number; buyerId: string; firehoseEventId?: string },
  deps: InventoryDeps,
  options: { verifyWithPayments?: boolean } = {},
): Promise<{ kind: SettleResult["kind"] | "unverified"; orderId: string | null }> {
  const decided = await readPaymentOutcomeGrouped(eventShard(deps, input.holdId, "hold"), input, deps);
  if (alreadyConfirmed(decided, input)) return { kind: "confirmed", orderId: decided.orderId };
  // A firehose event is only a claim (anyone who can write to the stream's Redis can append one):
  // before it confirms an order or triggers a refund, payments must know the payment as claimed.
  // Checked here, after the lock-free read, so the usual event (the checkout already confirmed it)
  // costs no round trip to payments.
  if (options.verifyWithPayments && !paymentConfirmsCapture(await deps.payments.get(input.paymentId), input)) {
    return { kind: "unverified", orderId: null };
  }
  const result = await settlePayment(input, deps);
  return { kind: result.kind, orderId: result.kind === "ignored" ? null : (result.order?.id ?? null) };
}

/** Seats of a refunded order go back on sale only while the event is still selling. */
export function releasesSeatsOnRefund(eventStatus: string): boolean {
  return eventStatus === "on_sale";
}

/**
 * `payment.refunded.v1`: the order the payment confirmed becomes refunded, its tickets void, and
 * its seats go back on sale while the event is on sale. Idempotent (a second delivery finds the
 * order already refunded); a refund of a payment that never became an order changes nothing.
 */
export async function applyRefund(
  input: { holdId: string; paymentId: string; buyerId?: string },
  deps: InventoryDeps,
  options: { verifyWithPayments?: boolean } = {},
): Promise<"voided" | "nothing-to-void" | "unverified"> {
  const sql = eventShard(deps, input.holdId, "hold");
  // Like a capture, a refund read from the firehose is only a claim until payments bears it out:
  // a forged one would void a paid order's tickets and sell its seats again.
  if (options.verifyWithPayments && !paymentConfirmsRefund(await deps.payments.get(input.paymentId), input)) return "unverified";
  const outcome = await withRetry(() => voidRefundedOrder(sql, { ...input, releaseSeats: releasesSeatsOnRefund }));
  if (outcome.kind === "voided" && outcome.seatsReleased > 0) deps.availability.changed(outcome.order.eventId);
  return outcome.kind;
}

interface OrdersCursor {
  createdAt: string;
  id: string;
}

function encodeCursor(cursor: OrdersCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString("base64url");
}

function decodeCursor(cursor: string): OrdersCursor {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as OrdersCursor;
    if (typeof parsed.createdAt !== "string" || Number.isNaN(Date.parse(parsed.createdAt)) || typeof parsed.id !== "string") throw new Error("shape");
    return parsed;
  } catch {
    throw inventoryError(InventoryErrorCodes.VALIDATION_FAILED, "cursor is not one this service issued", { fields: ["cursor"] });
  }
}

function newestFirst(a: OrderRecord, b: OrderRecord): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** The buyer's orders, newest first, gathered from every shard (their events live all over). */
export async function listBuyerOrders(
  input: { buyerId: string; limit: number; cursor?: string },
  deps: Pick<InventoryDeps, "shards">,
): Promise<{ orders: Order[]; nextCursor: string | null }> {
  const before = input.cursor ? decodeCursor(input.cursor) : undefined;
  const pages = await Promise.all(deps.shards.all().map((sql) => listOrders(sql, input.buyerId, input.limit + 1, before)));
  // While a logical shard moves, its frozen old copy and the new one both answer: keep each order once.
  const merged = pages.flat().sort(newestFirst).filter((order, i, all) => i === 0 || all[i - 1].id !== order.id);
  const page = merged.slice(0, input.limit);
  const last = page[page.length - 1];
  return {
    orders: page.map(toOrder),
    nextCursor: merged.length > input.limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null,
  };
}

export async function getBuyerOrder(input: { buyerId: string; orderId: string }, deps: Pick<InventoryDeps, "shards">): Promise<Order> {
  const order = await readOrder(eventShard(deps, input.orderId, "order"), input.orderId, input.buyerId);
  if (!order) throw inventoryError(InventoryErrorCodes.NOT_FOUND, "no such order of yours", { orderId: input.orderId });
  return toOrder(order);
}
