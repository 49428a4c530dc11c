// Firehose entry points (consumer groups, at least once; every effect is idempotent):
// - event.updated.v1 → create an event's seats the first time it is on sale;
// - payment.captured.v1 → confirm (or refund) a paid hold whose checkout died after the charge;
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

export function startInventoryConsumers(options: {
  firehose: Firehose;
  logger: Logger;
  consumerName: string;
  visibilityTimeoutMs: number;
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
