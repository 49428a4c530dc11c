// The gateway's HTTP API (shared/reference/http-api.md) as zod schemas: what the browser sends and
// gets back. The gateway validates with these and generates its OpenAPI document (/docs) from
// them; shapes the HTTP API shares with a service's RPC contract (holds, orders, seats) are reused.
import { z } from "zod";
import { cursorSchema, DEFAULT_PAGE_LIMIT, emailSchema, idSchema, MAX_PAGE_LIMIT } from "./common.ts";
import { sectionInputSchema, MAX_SEATS_PER_EVENT } from "./events.ts";
import { availabilityMessageSchema, holdSchema, MAX_SEATS_PER_BUYER, orderSchema, paymentCardSchema, seatSchema } from "./inventory.ts";
import { displayNameSchema, passwordSchema, userSchema } from "./users.ts";

export const httpErrorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.unknown().optional(),
  }),
});

export const httpSignUpBodySchema = z.object({ email: emailSchema, password: passwordSchema, displayName: displayNameSchema });
export const httpSignInBodySchema = z.object({ email: emailSchema, password: z.string().min(1).max(256) });
export const httpUserResponseSchema = z.object({ user: userSchema });

export const httpEventSummarySchema = z.object({
  id: z.string(),
  title: z.string(),
  venue: z.string(),
  startsAt: z.string(),
  minPriceCents: z.number().int(),
  available: z.number().int(),
  status: z.string(),
});
export type HttpEventSummary = z.infer<typeof httpEventSummarySchema>;

export const httpEventListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_LIMIT).default(DEFAULT_PAGE_LIMIT),
  cursor: cursorSchema.optional(),
});

export const httpEventListResponseSchema = z.object({
  events: z.array(httpEventSummarySchema),
  nextCursor: z.string().nullable(),
});

export const httpSectionSchema = z.object({
  id: z.string(),
  name: z.string(),
  priceCents: z.number().int(),
  capacity: z.number().int(),
  available: z.number().int(),
  rows: z.number().int().optional(),
  seatsPerRow: z.number().int().optional(),
});

export const httpEventSchema = z.object({
  id: z.string(),
  title: z.string(),
  venue: z.string(),
  startsAt: z.string(),
  /** When holds open (v1.1). */
  salesStartAt: z.string().optional(),
  status: z.string(),
  organizerId: z.string().optional(),
  available: z.number().int().optional(),
  sections: z.array(httpSectionSchema),
});
export type HttpEvent = z.infer<typeof httpEventSchema>;

export const httpEventResponseSchema = z.object({ event: httpEventSchema });
export const httpEventIdParamsSchema = z.object({ eventId: idSchema });

export const httpCreateEventBodySchema = z
  .object({
    title: z.string().trim().min(1).max(200),
    venue: z.string().trim().min(1).max(200),
    startsAt: z.iso.datetime({ offset: true }),
    /** When holds open (v1.1); default now. Buyers who join the waiting room before it are in the pre-queue. */
    salesStartAt: z.iso.datetime({ offset: true }).optional(),
    sections: z.array(sectionInputSchema).min(1).max(100),
  })
  .refine((body) => body.sections.reduce((sum, s) => sum + s.rows * s.seatsPerRow, 0) <= MAX_SEATS_PER_EVENT, {
    message: `an event has at most ${MAX_SEATS_PER_EVENT} seats`,
    path: ["sections"],
  });
export type HttpCreateEventBody = z.infer<typeof httpCreateEventBodySchema>;

export const httpSeatsResponseSchema = z.object({ seats: z.array(seatSchema) });
/** `?section=<sectionId>` (v1.1): that section's seats only. */
export const httpSeatsQuerySchema = z.object({ section: z.string().max(40).optional() });

/** `{quantity}` (best available) or `{seatIds}`, 1 to 8 either way. */
export const httpHoldBodySchema = z.union([
  z.object({ quantity: z.number().int().min(1).max(MAX_SEATS_PER_BUYER) }),
  z.object({ seatIds: z.array(idSchema).min(1).max(MAX_SEATS_PER_BUYER) }),
]);
export type HttpHoldBody = z.infer<typeof httpHoldBodySchema>;

export const httpHoldResponseSchema = z.object({ hold: holdSchema });
export const httpHoldIdParamsSchema = z.object({ holdId: idSchema });

export const httpOrderBodySchema = z.object({ holdId: idSchema, payment: paymentCardSchema });
export type HttpOrderBody = z.infer<typeof httpOrderBodySchema>;
export const httpIdempotencyHeadersSchema = z.object({ "idempotency-key": z.string().min(1).max(255) });
export const httpOrderResponseSchema = z.object({ order: orderSchema });
export const httpOrdersResponseSchema = z.object({ orders: z.array(orderSchema) });
export const httpOrderIdParamsSchema = z.object({ orderId: idSchema });

/** What `/api/events/:eventId/live` sends on every availability change. */
export const httpLiveMessageSchema = availabilityMessageSchema;

/**
 * A confirmed order, as the organiser's live view sees it: sent by the gateway that confirmed it to
 * the event's live group (at most once; a replayed order may be sent again, hence the order id), and
 * forwarded only to sockets opened with `?sales=1` by the event's organiser.
 */
export const saleMessageSchema = z.object({
  type: z.literal("sale"),
  eventId: idSchema,
  orderId: idSchema,
  at: z.string(),
  tickets: z.number().int().min(0),
  totalCents: z.number().int().min(0),
  /** Tickets per section name. */
  sections: z.array(z.object({ section: z.string(), tickets: z.number().int().min(1) })),
});
export type SaleMessage = z.infer<typeof saleMessageSchema>;
export const httpLiveQuerySchema = z.object({ sales: z.enum(["1"]).optional() });

/** A buyer's place in an event's waiting room (v1.1). */
export const httpQueueSchema = z.object({
  status: z.enum(["waiting", "admitted", "sold_out", "expired"]),
  /** 1-based among those still waiting; null in the pre-queue (before salesStartAt) and when not waiting. */
  position: z.number().int().min(1).nullable(),
  ahead: z.number().int().min(0).nullable(),
  estimatedWaitSeconds: z.number().int().min(0).nullable(),
  pollAfterSeconds: z.number().int().min(1),
  salesStartAt: z.string(),
  admittedUntil: z.string().nullable(),
});
export type HttpQueue = z.infer<typeof httpQueueSchema>;
export const httpQueueResponseSchema = z.object({ queue: httpQueueSchema });

export const httpQueueStatsSchema = z.object({
  waiting: z.number().int().min(0),
  admitted: z.number().int().min(0),
  admittedPerMinute: z.number().int().min(0),
  paused: z.boolean(),
  /** The organiser's cap on buyers admitted at once; null when the platform's measured rate alone decides. */
  maxAdmitted: z.number().int().min(0).nullable(),
});
export type HttpQueueStats = z.infer<typeof httpQueueStatsSchema>;
export const httpQueueStatsResponseSchema = z.object({ stats: httpQueueStatsSchema });

/** The organiser's controls; `maxAdmitted: null` removes the cap. */
export const httpQueuePatchBodySchema = z
  .object({
    paused: z.boolean().optional(),
    maxAdmitted: z.number().int().min(0).max(1_000_000).nullable().optional(),
  })
  .strict();
export type HttpQueuePatchBody = z.infer<typeof httpQueuePatchBodySchema>;

// The operator console (v1.1): GET /api/ops/overview, role "operator".
export const httpOpsOverviewSchema = z.object({
  generatedAt: z.string(),
  instances: z.array(z.object({
    service: z.string(), instance: z.string(), startedAt: z.string(), lastSeenAt: z.string(),
    inFlight: z.number(), handledPerSecond: z.number(), errorsPerSecond: z.number(),
    /** Not heard of for more than a few seconds: shown as gone, not hidden. */
    gone: z.boolean(),
  })),
  methods: z.array(z.object({ method: z.string(), callsPerSecond: z.number(), p50Ms: z.number().nullable(), p99Ms: z.number().nullable(), errorsPerSecond: z.number() })),
  channels: z.array(z.object({ name: z.string(), depth: z.number(), capacity: z.number() })),
  shards: z.array(z.object({ service: z.string(), shard: z.string(), logicalShards: z.array(z.tuple([z.number(), z.number()])), reachable: z.boolean(), replicas: z.number() })),
  firehose: z.array(z.object({ stream: z.string(), group: z.string(), lag: z.number().nullable(), pending: z.number(), deadLetters: z.number() })),
  rooms: z.array(z.object({ eventId: z.string(), title: z.string(), waiting: z.number(), admitted: z.number(), admittedPerMinute: z.number(), paused: z.boolean() })),
});
export type HttpOpsOverview = z.infer<typeof httpOpsOverviewSchema>;
export const httpOpsOverviewResponseSchema = z.object({ overview: httpOpsOverviewSchema });
