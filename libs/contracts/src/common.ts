// Zod pieces every contract shares: ids, emails, money, pagination, health, and the one map of
// error codes that may cross the bus (and the HTTP status the gateway gives each).
import { z } from "zod";

/** Ids are opaque strings (64-bit shard-aware ids are printed in decimal; strings survive JSON). */
export const idSchema = z.string().min(1).max(40).regex(/^[A-Za-z0-9_-]+$/, "must be an id");

/** Emails are case-insensitive: the schema trims and lower-cases them, so every service sees one spelling. */
export const emailSchema = z
  .string()
  .trim()
  .max(254)
  .transform((value) => value.toLowerCase())
  .pipe(z.email());

/** Money is integer cents; the upper bound keeps sums far from Number.MAX_SAFE_INTEGER. */
export const moneyCentsSchema = z.number().int().min(0).max(100_000_000);

/** ISO 8601 date-time with an offset or Z; services normalise to UTC when they store it. */
export const isoDateTimeSchema = z.iso.datetime({ offset: true });

/** An opaque cursor: only the service that issued it can read it. */
export const cursorSchema = z.string().min(1).max(512);

export const DEFAULT_PAGE_LIMIT = 20;
export const MAX_PAGE_LIMIT = 100;

/** Request side of cursor pagination; there are never totals. */
export const pageRequestSchema = z.object({
  limit: z.number().int().min(1).max(MAX_PAGE_LIMIT).default(DEFAULT_PAGE_LIMIT),
  cursor: cursorSchema.optional(),
});
export type PageRequest = z.infer<typeof pageRequestSchema>;

/** Response side: `nextCursor` is null on the last page. */
export function pageResponseSchema<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: cursorSchema.nullable() });
}

export const emptyRequestSchema = z.object({});

/** Answer of every `<service>.health.v1`: the bus answered (we are replying over it) and each shard's state. */
export const healthResponseSchema = z.object({
  service: z.string(),
  ok: z.boolean(),
  bus: z.boolean(),
  shards: z.array(z.object({ shard: z.string(), ok: z.boolean(), error: z.string().optional() })),
});
export type HealthResponse = z.infer<typeof healthResponseSchema>;

/** `operator` (v1.1): sees the operator console (`GET /api/ops/overview`); buys and organises nothing. */
export const roleSchema = z.enum(["buyer", "organizer", "operator"]);
export type Role = z.infer<typeof roleSchema>;

/**
 * Every error code that may cross the bus or reach a browser, with the HTTP status the gateway
 * answers. The generic ones mirror RpcErrorCodes of @boxoffice/bus; the rest are domain codes of
 * shared/reference/http-api.md plus the few a service needs beyond it.
 */
export const ErrorCodes = {
  VALIDATION_FAILED: "VALIDATION_FAILED",
  METHOD_NOT_FOUND: "METHOD_NOT_FOUND",
  DEADLINE_EXCEEDED: "DEADLINE_EXCEEDED",
  BUSY: "BUSY",
  UNAVAILABLE: "UNAVAILABLE",
  UNAUTHENTICATED: "UNAUTHENTICATED",
  FORBIDDEN: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  INTERNAL: "INTERNAL",
  CSRF_REJECTED: "CSRF_REJECTED",
  EMAIL_TAKEN: "EMAIL_TAKEN",
  INVALID_CREDENTIALS: "INVALID_CREDENTIALS",
  RATE_LIMITED: "RATE_LIMITED",
  EVENT_NOT_EDITABLE: "EVENT_NOT_EDITABLE",
  SOLD_OUT: "SOLD_OUT",
  SEAT_UNAVAILABLE: "SEAT_UNAVAILABLE",
  LIMIT_EXCEEDED: "LIMIT_EXCEEDED",
  PAYMENT_DECLINED: "PAYMENT_DECLINED",
  HOLD_EXPIRED: "HOLD_EXPIRED",
  IDEMPOTENCY_MISMATCH: "IDEMPOTENCY_MISMATCH",
  SALES_NOT_STARTED: "SALES_NOT_STARTED",
  NOT_ADMITTED: "NOT_ADMITTED",
  NOT_IN_QUEUE: "NOT_IN_QUEUE",
} as const;
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** HTTP status per code, and a sentence saying when it happens (the gateway's /docs lists these). */
export const ERROR_CODE_INFO: Record<ErrorCode, { status: number; description: string }> = {
  VALIDATION_FAILED: { status: 400, description: "The input does not match the contract; details name the fields." },
  METHOD_NOT_FOUND: { status: 501, description: "No instance serves this method (version)." },
  DEADLINE_EXCEEDED: { status: 503, description: "No answer before the caller's deadline; HTTP clients get 503 UNAVAILABLE with Retry-After (retrying with the same Idempotency-Key is safe)." },
  BUSY: { status: 503, description: "The bus refused work (a full channel); retry later." },
  UNAVAILABLE: { status: 503, description: "The bus or a store is unreachable." },
  UNAUTHENTICATED: { status: 401, description: "No valid identity token (missing, expired, forged or for another audience)." },
  FORBIDDEN: { status: 403, description: "Signed in, but not allowed to do this." },
  NOT_FOUND: { status: 404, description: "No such resource (or not the caller's)." },
  INTERNAL: { status: 500, description: "An unexpected fault; the message is hidden." },
  CSRF_REJECTED: { status: 403, description: "A browser's state-changing call without a same-origin Origin." },
  EMAIL_TAKEN: { status: 409, description: "An account with this email exists." },
  INVALID_CREDENTIALS: { status: 401, description: "Wrong email or password." },
  RATE_LIMITED: { status: 429, description: "Too many failed attempts; wait and retry." },
  EVENT_NOT_EDITABLE: { status: 409, description: "The event is cancelled, started, or the change needs a draft." },
  SOLD_OUT: { status: 409, description: "Not enough seats left." },
  SEAT_UNAVAILABLE: { status: 409, description: "A chosen seat is held or sold." },
  LIMIT_EXCEEDED: { status: 409, description: "Over the per-buyer ticket limit for the event." },
  PAYMENT_DECLINED: { status: 402, description: "The card was declined." },
  HOLD_EXPIRED: { status: 409, description: "The hold expired before the order." },
  IDEMPOTENCY_MISMATCH: { status: 409, description: "The same Idempotency-Key was used with a different body." },
  SALES_NOT_STARTED: { status: 409, description: "The event opens for sale later (details.salesStartAt)." },
  NOT_ADMITTED: { status: 409, description: "Others are waiting in the event's waiting room; join it (details.queuePath)." },
  NOT_IN_QUEUE: { status: 404, description: "The caller has no place in this event's waiting room." },
};

/** A firehose event contract: the type name carries its version ("event.updated.v1" → 1). */
export interface FirehoseEventDef<T extends z.ZodType = z.ZodType> {
  readonly type: string;
  readonly version: number;
  readonly stream: string;
  readonly data: T;
}

export function defineFirehoseEvent<T extends z.ZodType>(def: { type: string; stream: string; data: T }): FirehoseEventDef<T> {
  const match = /\.v(\d+)$/.exec(def.type);
  if (!match) throw new TypeError(`firehose event type ${def.type} must end in .v<N>`);
  return { type: def.type, version: Number(match[1]), stream: def.stream, data: def.data };
}
