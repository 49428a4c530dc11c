// Every error that crosses the bus is an RpcError: a stable code, a message, whether retrying may
// help, and details. It travels as {code, message, retryable, details} and is rebuilt on the caller's
// side, so callers branch on `code`, never on message text.
import { BusUnavailableError, ChannelFullError, MessageTooLargeError } from "../channel-layer/errors.ts";

export const RpcErrorCodes = {
  /** The request (or a reply) did not match the method's schema; details.fields names each problem. */
  VALIDATION_FAILED: "VALIDATION_FAILED",
  /** No server of that service handles that method name (or that version of it). */
  METHOD_NOT_FOUND: "METHOD_NOT_FOUND",
  /** The deadline passed before a reply arrived; the work may or may not have happened. */
  DEADLINE_EXCEEDED: "DEADLINE_EXCEEDED",
  /** The service's request channel is full: shed load (the gateway answers 503). Retryable. */
  BUSY: "BUSY",
  /** The bus could not be reached, or the client was closed. Retryable. */
  UNAVAILABLE: "UNAVAILABLE",
  UNAUTHENTICATED: "UNAUTHENTICATED",
  FORBIDDEN: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  /** A handler threw something that is not an RpcError; the real message stays in the server's log. */
  INTERNAL: "INTERNAL",
} as const;

export type RpcErrorCode = (typeof RpcErrorCodes)[keyof typeof RpcErrorCodes];

const RETRYABLE_BY_DEFAULT = new Set<string>([RpcErrorCodes.BUSY, RpcErrorCodes.UNAVAILABLE]);

export interface RpcErrorOptions {
  /** Default: true for BUSY and UNAVAILABLE, false otherwise. */
  retryable?: boolean;
  details?: unknown;
  cause?: unknown;
}

/** What an error looks like on the wire. */
export interface RpcErrorWire {
  code: string;
  message: string;
  retryable: boolean;
  details?: unknown;
}

export class RpcError extends Error {
  /** One of RpcErrorCodes, or a service's own domain code (SOLD_OUT, EMAIL_TAKEN, …). */
  readonly code: string;
  readonly retryable: boolean;
  readonly details?: unknown;

  constructor(code: string, message: string, options: RpcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RpcError";
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT.has(code);
    if (options.details !== undefined) this.details = options.details;
  }

  toWire(): RpcErrorWire {
    const wire: RpcErrorWire = { code: this.code, message: this.message, retryable: this.retryable };
    if (this.details !== undefined) wire.details = this.details;
    return wire;
  }

  static fromWire(value: unknown): RpcError {
    if (typeof value !== "object" || value === null) return new RpcError(RpcErrorCodes.INTERNAL, "malformed error reply");
    const wire = value as Partial<RpcErrorWire>;
    const code = typeof wire.code === "string" && wire.code ? wire.code : RpcErrorCodes.INTERNAL;
    const message = typeof wire.message === "string" ? wire.message : code;
    return new RpcError(code, message, { retryable: wire.retryable === true, details: wire.details });
  }
}

/** The channel layer's error code of `error`, if it is one (by code, so that a second copy of this package still matches). */
export function channelErrorCode(error: unknown): string | undefined {
  if (error instanceof ChannelFullError || error instanceof BusUnavailableError || error instanceof MessageTooLargeError) return error.code;
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : undefined;
}

/** Turns anything thrown into an RpcError; unknown errors become INTERNAL with their message hidden. */
export function toRpcError(error: unknown): RpcError {
  if (error instanceof RpcError) return error;
  const message = error instanceof Error ? error.message : String(error);
  switch (channelErrorCode(error)) {
    case "CHANNEL_FULL":
      return new RpcError(RpcErrorCodes.BUSY, message, { cause: error });
    case "BUS_UNAVAILABLE":
      return new RpcError(RpcErrorCodes.UNAVAILABLE, message, { cause: error });
    case "MESSAGE_TOO_LARGE":
    case "INVALID_MESSAGE":
      return new RpcError(RpcErrorCodes.VALIDATION_FAILED, message, { cause: error, details: { fields: [{ path: "", message }] } });
    default:
      // A component's own typed error that says retrying may help (a shard that is down or moving)
      // is a passing outage, not a defect: the caller may retry, and the gateway answers 503.
      if (isRetryableTypedError(error)) {
        return new RpcError(RpcErrorCodes.UNAVAILABLE, "a store is briefly unavailable; retry", { cause: error, details: { reason: error.code } });
      }
      return new RpcError(RpcErrorCodes.INTERNAL, "internal error", { cause: error });
  }
}

function isRetryableTypedError(error: unknown): error is { code: string; retryable: true } {
  if (typeof error !== "object" || error === null) return false;
  const { code, retryable } = error as { code?: unknown; retryable?: unknown };
  return retryable === true && typeof code === "string";
}

/** A programming mistake in how RPC is set up (a bad method name, option or handler): fails at once, naming the field. */
export class InvalidRpcOptionError extends TypeError {
  readonly code = "INVALID_RPC_OPTION" as const;
  readonly field: string;
  constructor(field: string, reason: string) {
    super(`invalid RPC ${field}: ${reason}`);
    this.name = "InvalidRpcOptionError";
    this.field = field;
  }
}

/** VALIDATION_FAILED with one entry per failing field: `{ fields: [{ path: "seats.0", message, code }] }`. */
export function validationFailed(what: "request" | "response", issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string; code?: string }>): RpcError {
  const fields = issues.map((issue) => ({
    path: issue.path.map((part) => String(part)).join("."),
    message: issue.message,
    ...(issue.code ? { code: issue.code } : {}),
  }));
  const summary = fields.map((f) => `${f.path || "(root)"}: ${f.message}`).join("; ");
  return new RpcError(RpcErrorCodes.VALIDATION_FAILED, `${what} failed validation: ${summary}`, { details: { fields } });
}
