// Every error code of the sharding lib lives here: one class per concept, each carrying a stable
// `code`, whether retrying can help, and the context that explains it.

export const ShardingErrorCodes = {
  SHARD_MAP_INVALID: "SHARD_MAP_INVALID",
  SHARD_UNAVAILABLE: "SHARD_UNAVAILABLE",
  INVALID_ID: "INVALID_ID",
  SHARD_MOVING: "SHARD_MOVING",
  SHARD_MOVED: "SHARD_MOVED",
  MIGRATION_FAILED: "MIGRATION_FAILED",
} as const;

export type ShardingErrorCode = (typeof ShardingErrorCodes)[keyof typeof ShardingErrorCodes];

export class ShardingError extends Error {
  readonly code: ShardingErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;
  constructor(code: ShardingErrorCode, message: string, options: { retryable?: boolean; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details ?? {};
  }
}

/** The shard map does not parse, or its logical shards are not each owned exactly once. */
export class ShardMapInvalidError extends ShardingError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ShardingErrorCodes.SHARD_MAP_INVALID, message, { details });
  }
}

/** A physical shard cannot be reached (connection refused, database missing, ...). Retryable. */
export class ShardUnavailableError extends ShardingError {
  readonly shard: string;
  constructor(shard: string, cause: unknown) {
    super(ShardingErrorCodes.SHARD_UNAVAILABLE, `shard "${shard}" is unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, {
      retryable: true,
      details: { shard },
      cause,
    });
    this.shard = shard;
  }
}

/** A string that is not an id of this lib (malformed, out of range, or made with another epoch). */
export class InvalidIdError extends ShardingError {
  readonly id: unknown;
  constructor(id: unknown, reason: string) {
    super(ShardingErrorCodes.INVALID_ID, `invalid id ${JSON.stringify(String(id)).slice(0, 60)}: ${reason}`, { details: { id: String(id), reason } });
    this.id = id;
  }
}

/** Writes to a logical shard are refused for the short moment it is being moved. Retry shortly. */
export class ShardMovingError extends ShardingError {
  readonly logicalShard: number;
  constructor(logicalShard: number) {
    super(ShardingErrorCodes.SHARD_MOVING, `logical shard ${logicalShard} is moving; retry shortly`, { retryable: true, details: { logicalShard } });
    this.logicalShard = logicalShard;
  }
}

/** The logical shard no longer lives where this process thought; the router reloads the map. Retry. */
export class ShardMovedError extends ShardingError {
  readonly logicalShard: number;
  constructor(logicalShard: number) {
    super(ShardingErrorCodes.SHARD_MOVED, `logical shard ${logicalShard} has moved to another physical shard; retry`, { retryable: true, details: { logicalShard } });
    this.logicalShard = logicalShard;
  }
}

/** A migration could not be applied, or an applied one was edited afterwards (checksum differs). */
export class MigrationError extends ShardingError {
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(ShardingErrorCodes.MIGRATION_FAILED, message, { details, cause });
  }
}

export function isShardingError(error: unknown): error is ShardingError {
  return error instanceof ShardingError;
}
