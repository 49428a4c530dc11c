// Firehose entry points (consumer groups, at least once; every effect is idempotent):
// - event.updated.v1 → create an event's seats the first time it is on sale;
// - payment.captured.v1 → confirm (or refund) a paid hold whose checkout died after the charge,
//   once the event is recoveryDelayMs old (the checkout had its chance: see recoveryWait);
// - payment.refunded.v1 → the order refunded, its tickets void, its seats back on sale.
import type { Consumer, Firehose } from "@boxoffice/bus";
import {
  EVENTS_STREAM,
  eventSchema,
  eventUpdatedV1,
  PAYMENTS_STREAM,
  paymentCapturedDataSchema,
  paymentCapturedV1,
  paymentRefundedDataSchema,
  paymentRefundedV1,
} from "@boxoffice/contracts";
import type { Logger } from "@boxoffice/runtime";
import { applyRefund, settleCapturedPayment } from "../domain/checkout.ts";
import { seatEvent } from "../domain/holds.ts";
import type { InventoryDeps } from "../domain/ports.ts";

export const SEATING_GROUP = "inventory.seating";
export const CHECKOUT_RECOVERY_GROUP = "inventory.checkout-recovery";

/**
 * How long recovery waits before it looks at a payment.captured.v1 that `ageMs` ago: until the event
 * is `delayMs` old, but never longer than a quarter of the visibility timeout (an event still
 * unacknowledged after that is redelivered to another consumer) nor than `delayMs` (a clock ahead of
 * ours does not stretch it).
 */
export function recoveryWait(ageMs: number, delayMs: number, visibilityTimeoutMs: number): number {
  const delay = Math.min(delayMs, Math.floor(visibilityTimeoutMs / 4));
  return Math.max(0, Math.min(delay, delay - ageMs));
}

/** Recovery wakes its waiting events on a common tick of this many ms (see onRecoveryTick). */
export const RECOVERY_TICK_MS = 100;

/**
 * A wait of `waitMs` from `now`, stretched to end on the next multiple of RECOVERY_TICK_MS (never
 * past a quarter of the visibility timeout, like recoveryWait): events that come due within one tick
 * are looked at together (their reads share a statement, domain/outcome-reads.ts) instead of one at
 * a time. No wait stays no wait.
 */
export function onRecoveryTick(now: number, waitMs: number, visibilityTimeoutMs: number): number {
  if (waitMs <= 0) return 0;
  const aligned = Math.ceil((now + waitMs) / RECOVERY_TICK_MS) * RECOVERY_TICK_MS - now;
  return Math.max(waitMs, Math.min(aligned, Math.floor(visibilityTimeoutMs / 4)));
}

export function startInventoryConsumers(options: {
  firehose: Firehose;
  logger: Logger;
  consumerName: string;
  visibilityTimeoutMs: number;
  /** See recoveryWait. Default 0 (at once). */
  recoveryDelayMs?: number;
  domain: InventoryDeps;
}): Consumer[] {
  const { firehose, logger, domain } = options;
  const onError = (error: unknown, event?: { id: string; type: string }) =>
    logger.warn({ err: error, eventId: event?.id, type: event?.type }, "firehose consumer: handler failed; will be redelivered");

  const seating = firehose.consume(
    EVENTS_STREAM,
    { group: SEATING_GROUP, consumer: options.consumerName, visibilityTimeoutMs: options.visibilityTimeoutMs, onError },
    async (event) => {
      if (event.type !== eventUpdatedV1.type) return;
      const parsed = eventSchema.safeParse(event.data);
      if (!parsed.success) {
        logger.error({ eventId: event.id, issues: parsed.error.issues }, "event.updated.v1 does not match its contract; skipped");
        return;
      }
      await seatEvent(parsed.data, domain);
    },
  );

  const recovery = firehose.consume(
    PAYMENTS_STREAM,
    { group: CHECKOUT_RECOVERY_GROUP, consumer: options.consumerName, visibilityTimeoutMs: options.visibilityTimeoutMs, onError },
    async (event) => {
      if (event.type === paymentRefundedV1.type) {
        const refunded = paymentRefundedDataSchema.safeParse(event.data);
        if (!refunded.success) {
          logger.error({ eventId: event.id, issues: refunded.error.issues }, "payment.refunded.v1 does not match its contract; skipped");
          return;
        }
        const { paymentId, buyerId, reference } = refunded.data;
        if (!reference.holdId) return;
        const outcome = await applyRefund({ holdId: reference.holdId, paymentId, buyerId }, domain, { verifyWithPayments: true });
        if (outcome === "voided") logger.info({ paymentId, holdId: reference.holdId }, "payment refunded: order refunded, tickets void");
        if (outcome === "unverified") {
          logger.warn({ eventId: event.id, paymentId, holdId: reference.holdId }, "payment.refunded.v1 not borne out by payments (forged or altered); ignored");
        }
        return;
      }
      if (event.type !== paymentCapturedV1.type) return;
      const parsed = paymentCapturedDataSchema.safeParse(event.data);
      if (!parsed.success) {
        logger.error({ eventId: event.id, issues: parsed.error.issues }, "payment.captured.v1 does not match its contract; skipped");
        return;
      }
      const { paymentId, buyerId, amountCents, reference } = parsed.data;
      // Payments for something other than a hold are not inventory's.
      if (!reference.holdId) return;
      // The checkout that captured this payment is confirming it right now, nearly always: looked at
      // at once, the decision is not there yet, so recovery would ask payments and then queue on the
      // hold's row lock only to find it made. Once the checkout had its chance, one lock-free read
      // settles it. Events of the batch wait side by side, and a consumer that fell behind (events
      // already that old) does not wait at all, so this delays recovery without slowing it.
      const now = Date.now();
      const wait = onRecoveryTick(now, recoveryWait(now - Date.parse(event.occurredAt), options.recoveryDelayMs ?? 0, options.visibilityTimeoutMs), options.visibilityTimeoutMs);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait).unref());
      const result = await settleCapturedPayment(
        { holdId: reference.holdId, paymentId, buyerId, amountCents, firehoseEventId: event.id },
        domain,
        { verifyWithPayments: true },
      );
      if (result.kind === "unverified") {
        logger.warn({ eventId: event.id, paymentId, holdId: reference.holdId }, "payment.captured.v1 not borne out by payments (forged or altered); ignored");
        return;
      }
      if (result.kind === "refunded") logger.info({ paymentId, holdId: reference.holdId }, "captured payment could not be confirmed: refunded");
    },
  );
  return [seating, recovery];
}
