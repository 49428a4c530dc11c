// Every error the HTTP API answers with, in one place: its code, its HTTP status, and the one
// function that turns anything thrown (an RpcError from the bus, a validation failure, a bug) into
// the `{error:{code,message,details}}` body of shared/reference/http-api.md.
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { RpcError } from "@boxoffice/bus";
import { ERROR_CODE_INFO, type ErrorCode } from "@boxoffice/contracts";

export interface HttpErrorSpec {
  readonly status: number;
  readonly message: string;
}

/** Sentences for people; statuses come from the contracts' one map (ERROR_CODE_INFO). */
const MESSAGES: Record<ErrorCode, string> = {
  VALIDATION_FAILED: "the request is not valid",
  METHOD_NOT_FOUND: "this operation is not available right now",
  DEADLINE_EXCEEDED: "a service took too long to answer",
  BUSY: "we are very busy; retry in a moment",
  UNAVAILABLE: "a service is unavailable; retry in a moment",
  UNAUTHENTICATED: "sign in first",
  FORBIDDEN: "you are not allowed to do this",
  NOT_FOUND: "not found",
  INTERNAL: "something went wrong on our side",
  CSRF_REJECTED: "cross-site request refused",
  EMAIL_TAKEN: "an account with this email already exists",
  INVALID_CREDENTIALS: "wrong email or password",
  RATE_LIMITED: "too many attempts; wait a moment",
  EVENT_NOT_EDITABLE: "this event can no longer be changed",
  SOLD_OUT: "not enough seats left",
  SEAT_UNAVAILABLE: "one of these seats was just taken",
  LIMIT_EXCEEDED: "at most 8 tickets per buyer per event",
  PAYMENT_DECLINED: "the card was declined",
  HOLD_EXPIRED: "the hold expired; choose your seats again",
  IDEMPOTENCY_MISMATCH: "this Idempotency-Key was used with a different request",
  SALES_NOT_STARTED: "this event is not on sale yet",
  NOT_ADMITTED: "others are waiting for this event: join its waiting room",
  NOT_IN_QUEUE: "you have no place in this event's waiting room",
};

/** Codes only the HTTP layer produces (transport problems that never cross the bus). */
const HTTP_ONLY_ERRORS = {
  CONFLICT: { status: 409, message: "the request conflicts with the current state" },
  PAYLOAD_TOO_LARGE: { status: 413, message: "the request body is too large" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "send JSON" },
  URI_TOO_LONG: { status: 414, message: "a part of the path is too long" },
  UPGRADE_REQUIRED: { status: 426, message: "this address speaks WebSocket only" },
} as const satisfies Record<string, HttpErrorSpec>;

/** Every code the HTTP API answers with, its status and default message. */
export const HTTP_ERRORS: Record<ErrorCode | keyof typeof HTTP_ONLY_ERRORS, HttpErrorSpec> = {
  ...(Object.fromEntries(
    (Object.keys(ERROR_CODE_INFO) as ErrorCode[]).map((code) => [code, { status: ERROR_CODE_INFO[code].status, message: MESSAGES[code] }]),
  ) as Record<ErrorCode, HttpErrorSpec>),
  ...HTTP_ONLY_ERRORS,
};

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

/** Codes other services send over the bus that mean one of ours (the bus's own codes included). */
const BUS_CODE_ALIASES: Record<string, HttpErrorCode> = {
  CHANNEL_FULL: "BUSY",
  // A deadline that runs out is shed load: 503 with Retry-After (a retry with the same Idempotency-Key is safe), not 504.
  DEADLINE_EXCEEDED: "UNAVAILABLE",
  CARD_DECLINED: "PAYMENT_DECLINED",
  INSUFFICIENT_FUNDS: "PAYMENT_DECLINED",
  INVALID_CARD: "PAYMENT_DECLINED",
  HOLD_NOT_FOUND: "NOT_FOUND",
  EVENT_NOT_FOUND: "NOT_FOUND",
  ORDER_NOT_FOUND: "NOT_FOUND",
  USER_NOT_FOUND: "NOT_FOUND",
  NOT_ON_SALE: "CONFLICT",
  INVALID_TOKEN: "UNAUTHENTICATED",
  TOKEN_EXPIRED: "UNAUTHENTICATED",
};

/** An error the gateway raises itself; carries a code of HTTP_ERRORS. */
export class GatewayError extends Error {
  readonly code: HttpErrorCode;
  readonly details?: unknown;
  readonly retryAfterSeconds?: number;
  constructor(code: HttpErrorCode, message?: string, options: { details?: unknown; retryAfterSeconds?: number } = {}) {
    super(message ?? HTTP_ERRORS[code].message);
    this.name = "GatewayError";
    this.code = code;
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export interface HttpErrorReply {
  readonly status: number;
  readonly body: { error: { code: string; message: string; details?: unknown } };
  readonly retryAfterSeconds?: number;
  /** True for faults of our own (500s), logged at error level. */
  readonly internal: boolean;
}

function reply(code: HttpErrorCode, message?: string, details?: unknown, retryAfterSeconds?: number): HttpErrorReply {
  const body: HttpErrorReply["body"] = { error: { code, message: message ?? HTTP_ERRORS[code].message } };
  if (details !== undefined) body.error.details = details;
  // Shed load (BUSY) and slow or missing services are counted in metrics, not logged per request.
  return { status: HTTP_ERRORS[code].status, body, retryAfterSeconds, internal: HTTP_ERRORS[code].status === 500 };
}

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  validation?: unknown;
}

/** Zod issues and fastify's own validation records become `details: {fields: [{path, message}]}`. */
function validationDetails(error: unknown): { fields: Array<{ path: string; message: string }> } {
  const fields: Array<{ path: string; message: string }> = [];
  if (hasZodFastifySchemaValidationErrors(error)) {
    const context = (error as { validationContext?: string }).validationContext ?? "body";
    for (const issue of error.validation) {
      const params = issue.params as { issue?: { path?: PropertyKey[] } } | undefined;
      const path = params?.issue?.path ?? issue.instancePath.split("/").filter(Boolean);
      fields.push({ path: [context, ...path.map(String)].join("."), message: issue.message ?? "invalid" });
    }
  }
  return { fields };
}

/** A service's own wait (users' sign-in waits grow with each failure): `details.retryAfterSeconds`, when it is one. */
function retryAfterOf(details: unknown): number | undefined {
  const seconds = (details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
  return typeof seconds === "number" && Number.isInteger(seconds) && seconds > 0 ? seconds : undefined;
}

/** The one function: anything thrown while serving a request → status and body. */
export function toHttpError(error: unknown, options: { busyRetryAfterSeconds: number }): HttpErrorReply {
  if (error instanceof GatewayError) {
    return reply(error.code, error.message, error.details, error.retryAfterSeconds ?? (HTTP_ERRORS[error.code].status === 503 ? options.busyRetryAfterSeconds : undefined));
  }
  if (error instanceof RpcError) {
    const code = (Object.hasOwn(BUS_CODE_ALIASES, error.code) ? BUS_CODE_ALIASES[error.code] : error.code in HTTP_ERRORS ? error.code : undefined) as HttpErrorCode | undefined;
    if (code === undefined) {
      // An unknown domain code from a newer service: keep its code, call it a conflict if the
      // service says retrying will not help, otherwise unavailable.
      const fallback: HttpErrorCode = error.retryable ? "UNAVAILABLE" : "CONFLICT";
      return { ...reply(fallback, error.message, error.details, error.retryable ? options.busyRetryAfterSeconds : undefined), body: { error: { code: error.code, message: error.message, details: error.details } } };
    }
    const retryAfter = code === "BUSY" || code === "UNAVAILABLE" ? options.busyRetryAfterSeconds : code === "RATE_LIMITED" ? retryAfterOf(error.details) : undefined;
    // Internal messages of other services are hidden; domain messages are meant for people.
    const message = HTTP_ERRORS[code].status >= 500 ? HTTP_ERRORS[code].message : error.message || HTTP_ERRORS[code].message;
    const details = code === "PAYMENT_DECLINED" && error.code !== "PAYMENT_DECLINED" ? { reason: error.code, ...(error.details as object | undefined) } : error.details;
    return reply(code, message, details, retryAfter);
  }
  const fastifyError = error as FastifyLikeError;
  if (fastifyError && typeof fastifyError === "object") {
    if (fastifyError.validation !== undefined) return reply("VALIDATION_FAILED", undefined, validationDetails(error));
    switch (fastifyError.code) {
      case "FST_ERR_BAD_URL":
        return reply("VALIDATION_FAILED", "the URL is not valid (bad percent-encoding)", { fields: [{ path: "url", message: "malformed percent-encoding" }] });
      case "FST_ERR_MAX_PARAM_LENGTH":
        return reply("URI_TOO_LONG");
      case "FST_ERR_CTP_BODY_TOO_LARGE":
        return reply("PAYLOAD_TOO_LARGE");
      case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
        return reply("UNSUPPORTED_MEDIA_TYPE");
      case "FST_ERR_CTP_EMPTY_JSON_BODY":
        return reply("VALIDATION_FAILED", "the body is empty", { fields: [{ path: "body", message: "expected JSON" }] });
      case "FST_ERR_CTP_INVALID_JSON_BODY":
      case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
        return reply("VALIDATION_FAILED", "the body is not valid JSON", { fields: [{ path: "body", message: "malformed JSON" }] });
    }
    if (error instanceof SyntaxError) {
      return reply("VALIDATION_FAILED", "the body is not valid JSON", { fields: [{ path: "body", message: "malformed JSON" }] });
    }
    if (typeof fastifyError.statusCode === "number" && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
      if (fastifyError.statusCode === 413) return reply("PAYLOAD_TOO_LARGE");
      if (fastifyError.statusCode === 415) return reply("UNSUPPORTED_MEDIA_TYPE");
      if (fastifyError.statusCode === 404) return reply("NOT_FOUND");
      return reply("VALIDATION_FAILED", (error as Error).message);
    }
  }
  return reply("INTERNAL");
}

/**
 * The answer to a request Node's HTTP parser could not read (fastify's clientErrorHandler): raw
 * HTTP in the API's error shape, since no request object exists to reply through.
 */
export function clientErrorResponse(error: { code?: string }): string {
  const [status, reason, code, message] =
    error.code === "HPE_HEADER_OVERFLOW"
      ? [431, "Request Header Fields Too Large", "VALIDATION_FAILED", "the request headers are too large"]
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "Request Timeout", "VALIDATION_FAILED", "the request took too long to arrive"]
        : [400, "Bad Request", "VALIDATION_FAILED", "the request is not valid HTTP (a malformed URL or header)"];
  const body = JSON.stringify({ error: { code, message } });
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`;
}

// A NUL character (Postgres refuses it in text) or a UTF-16 surrogate without its pair (no valid
// UTF-8 exists for it).
// eslint-disable-next-line no-control-regex -- NUL is exactly what this refuses
const FORBIDDEN_CHARACTERS = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Paths (`body.sections.0.name`) of every string in `value` that holds a character no store accepts. */
export function forbiddenCharacterPaths(value: unknown, path: string, found: string[] = [], depth = 0): string[] {
  if (depth > 32 || found.length >= 10) return found;
  if (typeof value === "string") {
    if (FORBIDDEN_CHARACTERS.test(value)) found.push(path);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => forbiddenCharacterPaths(item, `${path}.${i}`, found, depth + 1));
  } else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (FORBIDDEN_CHARACTERS.test(key)) found.push(`${path}.${key}`);
      forbiddenCharacterPaths(item, `${path}.${key}`, found, depth + 1);
    }
  }
  return found;
}
