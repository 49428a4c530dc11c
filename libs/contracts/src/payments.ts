// Contracts of the payments service: charges, refunds and idempotency records (sharded by buyer).
//
// Idempotency follows Stripe: the first request with a key stores its result; the same key with the
// same parameters returns that stored result (a decline included); the same key with different
// parameters fails with IDEMPOTENCY_MISMATCH. Callers send payment calls with `waitForCapacity: true`.
// The buyer is the subject of the caller's identity token. Card numbers are never stored or logged
// beyond their last four digits.
import { defineMethod } from "@boxoffice/bus";
import { z } from "zod";
import {
  cursorSchema,
  defineFirehoseEvent,
  DEFAULT_PAGE_LIMIT,
  emptyRequestSchema,
  healthResponseSchema,
  idSchema,
  isoDateTimeSchema,
  MAX_PAGE_LIMIT,
  moneyCentsSchema,
} from "./common.ts";
import { idempotencyKeySchema, paymentCardSchema } from "./inventory.ts";

export const paymentStatusSchema = z.enum(["captured", "refunded"]);
export type PaymentStatus = z.infer<typeof paymentStatusSchema>;

/** What a charge pays for; inventory's recovery consumer reads it back from `payment.captured.v1`. */
export const paymentReferenceSchema = z.object({
  holdId: idSchema.optional(),
  eventId: idSchema.optional(),
  description: z.string().max(200).optional(),
});
export type PaymentReference = z.infer<typeof paymentReferenceSchema>;

export const paymentSchema = z.object({
  id: idSchema,
  buyerId: idSchema,
  status: paymentStatusSchema,
  amountCents: moneyCentsSchema,
  refundedCents: moneyCentsSchema,
  currency: z.string(),
  cardLast4: z.string(),
  reference: paymentReferenceSchema,
  createdAt: isoDateTimeSchema,
});
export type Payment = z.infer<typeof paymentSchema>;

/**
 * Charges the caller's card. Declines fail with PAYMENT_DECLINED (details.declineCode:
 * "card_declined" | "insufficient_funds" | "invalid_number"), stored and replayed like a success.
 */
export const paymentsChargeV1 = defineMethod({
  name: "payments.charge.v1",
  access: { services: ["inventory"] },
  request: z.object({
    idempotencyKey: idempotencyKeySchema,
    amountCents: moneyCentsSchema.refine((v) => v > 0, "must be positive"),
    currency: z.string().regex(/^[a-z]{3}$/).default("usd"),
    card: paymentCardSchema,
    reference: paymentReferenceSchema.default({}),
  }),
  response: z.object({ payment: paymentSchema }),
});

/**
 * Refunds a captured payment in full. Callers: inventory (its automatic refunds, naming the buyer),
 * or an organiser's token through any service; servers that verify service identities refuse
 * anyone else with FORBIDDEN. With a token, only the token's own payments.
 */
export const paymentsRefundV1 = defineMethod({
  name: "payments.refund.v1",
  access: { services: ["inventory"], roles: ["organizer"] },
  request: z.object({
    paymentId: idSchema,
    idempotencyKey: idempotencyKeySchema,
    buyerId: idSchema.optional(),
    reason: z.string().max(200).optional(),
  }),
  response: z.object({ payment: paymentSchema, refund: z.object({ id: idSchema, amountCents: moneyCentsSchema }) }),
});

/** The caller's ledger of payments, newest first. */
export const paymentsListV1 = defineMethod({
  name: "payments.list.v1",
  access: { services: ["gateway"] },
  request: z.object({
    limit: z.number().int().min(1).max(MAX_PAGE_LIMIT).default(DEFAULT_PAGE_LIMIT),
    cursor: cursorSchema.optional(),
  }),
  response: z.object({ payments: z.array(paymentSchema), nextCursor: cursorSchema.nullable() }),
});

/**
 * One payment as payments' database has it, for inventory only: a `payment.captured.v1` read from
 * the firehose (which anyone who can write to its Redis can append to) is acted on only once this
 * look-up confirms the payment, its buyer, amount and hold. NOT_FOUND when there is no such payment.
 */
export const paymentsGetV1 = defineMethod({
  name: "payments.get.v1",
  access: { services: ["inventory"] },
  request: z.object({ paymentId: idSchema }),
  response: z.object({ payment: paymentSchema }),
});

export const paymentsHealthV1 = defineMethod({
  name: "payments.health.v1",
  request: emptyRequestSchema,
  response: healthResponseSchema,
});

export const paymentsMethods = [paymentsChargeV1, paymentsRefundV1, paymentsListV1, paymentsGetV1, paymentsHealthV1] as const;

export const PAYMENTS_STREAM = "payments";

export const paymentCapturedDataSchema = z.object({
  paymentId: idSchema,
  buyerId: idSchema,
  amountCents: moneyCentsSchema,
  currency: z.string(),
  reference: paymentReferenceSchema,
  capturedAt: isoDateTimeSchema,
});

/** A charge succeeded (published from payments' outbox, at least once); key = buyer id. */
export const paymentCapturedV1 = defineFirehoseEvent({ type: "payment.captured.v1", stream: PAYMENTS_STREAM, data: paymentCapturedDataSchema });

export const paymentRefundedDataSchema = z.object({
  paymentId: idSchema,
  buyerId: idSchema,
  refundId: idSchema,
  amountCents: moneyCentsSchema,
  reference: paymentReferenceSchema,
});

/** A payment was refunded (inventory voids its order's tickets); key = buyer id. */
export const paymentRefundedV1 = defineFirehoseEvent({ type: "payment.refunded.v1", stream: PAYMENTS_STREAM, data: paymentRefundedDataSchema });
