// Contracts of the inventory service: seats, holds, orders and tickets (sharded by event).
//
// Every buyer-facing method needs the caller's identity token (RPC `token` option); the buyer is the
// token's subject, never a field of the request. Availability and the seat map are public.
// Checkout is `inventory.order.v1`: inventory validates the hold, charges through payments with an
// idempotency key derived from the client's key and the hold, and confirms the order; replays of one
// request never charge twice, and a crash between the steps is repaired from `payment.captured.v1`.
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

/** The most seats one buyer may hold and buy for one event, together. */
export const MAX_SEATS_PER_BUYER = 8;

export const seatStatusSchema = z.enum(["available", "held", "sold"]);
export type SeatStatus = z.infer<typeof seatStatusSchema>;

export const seatSchema = z.object({
  id: idSchema,
  sectionId: idSchema,
  /** The section's name. */
  section: z.string(),
  row: z.number().int(),
  number: z.number().int(),
  status: seatStatusSchema,
});
export type Seat = z.infer<typeof seatSchema>;

export const heldSeatSchema = z.object({
  id: idSchema,
  sectionId: idSchema,
  section: z.string(),
  row: z.number().int(),
  number: z.number().int(),
  priceCents: moneyCentsSchema,
});
export type HeldSeat = z.infer<typeof heldSeatSchema>;

export const holdSchema = z.object({
  id: idSchema,
  eventId: idSchema,
  seats: z.array(heldSeatSchema),
  totalCents: moneyCentsSchema,
  expiresAt: isoDateTimeSchema,
});
export type Hold = z.infer<typeof holdSchema>;

export const sectionAvailabilitySchema = z.object({ id: idSchema, available: z.number().int().min(0) });

export const availabilitySchema = z.object({
  eventId: idSchema,
  available: z.number().int().min(0),
  sections: z.array(sectionAvailabilitySchema),
});
export type Availability = z.infer<typeof availabilitySchema>;

export const ticketSchema = z.object({
  id: idSchema,
  seatId: idSchema,
  /** Unguessable (128 random bits, base32): what the door scanner checks. */
  code: z.string(),
  section: z.string(),
  row: z.number().int(),
  number: z.number().int(),
});
export type Ticket = z.infer<typeof ticketSchema>;

export const orderStatusSchema = z.enum(["confirmed", "refunded"]);
export type OrderStatus = z.infer<typeof orderStatusSchema>;

export const orderSchema = z.object({
  id: idSchema,
  status: orderStatusSchema,
  eventId: idSchema,
  holdId: idSchema,
  paymentId: idSchema,
  /** Empty when the order was refunded (its seats went to someone else before it could be confirmed). */
  tickets: z.array(ticketSchema),
  totalCents: moneyCentsSchema,
  createdAt: isoDateTimeSchema,
});
export type Order = z.infer<typeof orderSchema>;

/** The card as the buyer typed it; only payments sees the number, and keeps its last four digits. */
export const paymentCardSchema = z.object({
  // Any digits are accepted here: the processor declines unknown numbers as invalid.
  cardNumber: z.string().trim().regex(/^[0-9 -]{1,30}$/, "must be digits"),
  expMonth: z.number().int().min(1).max(12),
  expYear: z.number().int().min(2000).max(2200),
  cvc: z.string().regex(/^[0-9]{3,4}$/, "must be 3 or 4 digits"),
});
export type PaymentCard = z.infer<typeof paymentCardSchema>;

export const idempotencyKeySchema = z.string().min(1).max(255);

/** Hold by quantity (best available) or by explicit seat ids, exactly one of the two. */
export const inventoryHoldV1 = defineMethod({
  name: "inventory.hold.v1",
  access: { services: ["gateway"] },
  request: z
    .object({
      eventId: idSchema,
      quantity: z.number().int().min(1).max(MAX_SEATS_PER_BUYER).optional(),
      seatIds: z.array(idSchema).min(1).max(MAX_SEATS_PER_BUYER).optional(),
      /**
       * The waiting room's signed admission for this buyer and event (v1.1): inventory verifies it
       * locally and refuses a hold without a valid one (NOT_ADMITTED) when it is configured with
       * admission keys, so a direct bus call never passes the line.
       */
      admission: z.string().min(1).max(1024).optional(),
    })
    .refine((r) => (r.quantity === undefined) !== (r.seatIds === undefined), {
      message: "give either quantity or seatIds",
      path: ["quantity"],
    }),
  response: z.object({ hold: holdSchema }),
});

/** Frees the caller's hold at once; NOT_FOUND when it is not the caller's (or no longer active). */
export const inventoryReleaseV1 = defineMethod({
  name: "inventory.release.v1",
  access: { services: ["gateway"] },
  request: z.object({ holdId: idSchema }),
  response: z.object({ released: z.literal(true) }),
});

/** Seats available per section of one event (NOT_FOUND when inventory has no seats for it). */
export const inventoryAvailabilityV1 = defineMethod({
  name: "inventory.availability.v1",
  access: { services: ["gateway"] },
  request: z.object({ eventId: idSchema }),
  response: availabilitySchema,
});

/** Availability of many events at once (event lists); events without seats are left out. */
export const inventoryAvailabilitiesV1 = defineMethod({
  name: "inventory.availabilities.v1",
  access: { services: ["gateway"] },
  request: z.object({ eventIds: z.array(idSchema).max(MAX_PAGE_LIMIT) }),
  response: z.object({ events: z.array(availabilitySchema) }),
});

export const DEFAULT_SEAT_PAGE_LIMIT = 2000;
export const MAX_SEAT_PAGE_LIMIT = 5000;

/**
 * One page of the seat map of one event, in seat id order. Pages keep every bus message far below
 * its 1 MiB limit (an event has up to 100,000 seats; 5,000 seats are ~600 KB). `after` is the last
 * seat id of the previous page (`nextCursor`, null on the last page). Both fields are optional so a
 * caller that only sends `{eventId}` still gets the first page.
 */
export const inventorySeatsV1 = defineMethod({
  name: "inventory.seats.v1",
  access: { services: ["gateway"] },
  request: z.object({
    eventId: idSchema,
    after: idSchema.optional(),
    limit: z.number().int().min(1).max(MAX_SEAT_PAGE_LIMIT).default(DEFAULT_SEAT_PAGE_LIMIT),
    /** Only this section's seats (v1.1: a stadium's plan loads one section at a time). */
    sectionId: idSchema.optional(),
  }),
  response: z.object({ seats: z.array(seatSchema), nextCursor: idSchema.nullable().default(null) }),
});

/** Checkout: hold → charge → confirm, exactly once per (caller, idempotencyKey). */
export const inventoryOrderV1 = defineMethod({
  name: "inventory.order.v1",
  access: { services: ["gateway"] },
  request: z.object({
    holdId: idSchema,
    idempotencyKey: idempotencyKeySchema,
    payment: paymentCardSchema,
  }),
  response: z.object({ order: orderSchema }),
});

/** The caller's orders, newest first (gathered from every shard). */
export const inventoryOrdersV1 = defineMethod({
  name: "inventory.orders.v1",
  access: { services: ["gateway"] },
  request: z.object({
    limit: z.number().int().min(1).max(MAX_PAGE_LIMIT).default(DEFAULT_PAGE_LIMIT),
    cursor: cursorSchema.optional(),
  }),
  response: z.object({ orders: z.array(orderSchema), nextCursor: cursorSchema.nullable() }),
});

/** One of the caller's orders; NOT_FOUND when it is not the caller's. */
export const inventoryGetOrderV1 = defineMethod({
  name: "inventory.get-order.v1",
  access: { services: ["gateway"] },
  request: z.object({ orderId: idSchema }),
  response: z.object({ order: orderSchema }),
});

/**
 * Settles a captured payment of a hold: confirms the hold into tickets, or refunds the payment when
 * it cannot be confirmed, exactly as the `payment.captured.v1` consumer does (idempotent: the
 * outcome is decided once per payment). Called without a token by payments' reconciler, which
 * reads captured payments with no decided outcome from its own database (so nothing rests on the
 * firehose). `unknown-hold`: inventory has no such hold.
 */
export const inventorySettleV1 = defineMethod({
  name: "inventory.settle.v1",
  // Only payments' reconciler may ask inventory to act on a payment (checked where service identities are configured).
  access: { services: ["payments"] },
  request: z.object({
    paymentId: idSchema,
    buyerId: idSchema,
    holdId: idSchema,
    amountCents: moneyCentsSchema,
  }),
  response: z.object({ outcome: z.enum(["confirmed", "refunded", "unknown-hold"]), orderId: idSchema.nullable() }),
});

/** The idempotency key of the automatic refund of a payment that could not become an order (one per payment). */
export function automaticRefundKeyOf(paymentId: string): string {
  return `auto-refund:${paymentId}`;
}

export const inventoryHealthV1 = defineMethod({
  name: "inventory.health.v1",
  request: emptyRequestSchema,
  response: healthResponseSchema,
});

export const inventoryMethods = [
  inventoryHoldV1,
  inventoryReleaseV1,
  inventoryAvailabilityV1,
  inventoryAvailabilitiesV1,
  inventorySeatsV1,
  inventoryOrderV1,
  inventoryOrdersV1,
  inventoryGetOrderV1,
  inventorySettleV1,
  inventoryHealthV1,
] as const;

export const INVENTORY_STREAM = "inventory";

/** Every change of an event's availability, on stream "inventory"; key = event id. */
export const inventoryAvailabilityChangedV1 = defineFirehoseEvent({
  type: "inventory.availability-changed.v1",
  stream: INVENTORY_STREAM,
  data: availabilitySchema,
});

/** The bus group the gateway's WebSockets of one event listen on. */
export function eventLiveGroup(eventId: string): string {
  return `event-${eventId}`;
}

/** The message sent to `eventLiveGroup(eventId)`: exactly the WebSocket message of the HTTP API. */
export const availabilityMessageSchema = availabilitySchema.extend({ type: z.literal("availability") });
export type AvailabilityMessage = z.infer<typeof availabilityMessageSchema>;
