// One zod schema per process reads the environment; these are the fields every service shares, so
// compose and Kubernetes manifests set the same names everywhere (see docs/architecture.md).
import { randomInt } from "node:crypto";
import { z } from "zod";

/** "true"/"false"/"1"/"0"/"yes"/"no" from the environment; anything else is a config error. */
export const envBoolean = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => v === "true" || v === "1" || v === "yes");

export const commonConfigShape = {
  /** The channel layer: "memory://" (one process) or comma-separated redis:// URLs, one per host. */
  BUS_URL: z.string().min(1).default("memory://"),
  /** The firehose: "memory://" or one redis:// URL (Redis Streams). */
  FIREHOSE_URL: z.string().min(1).default("memory://"),
  /** Key prefix of this deployment in the bus and firehose stores (tests use unique ones). */
  BUS_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]+$/).default("boxoffice"),
  /** The shard map as JSON (see @boxoffice/sharding); or SHARD_MAP_FILE. */
  SHARD_MAP: z.string().optional(),
  SHARD_MAP_FILE: z.string().optional(),
  /**
   * 0–31 (the 5 bits every shard-aware id carries); each live replica of a service needs its own,
   * so deployments set it (compose per instance, Kubernetes from the StatefulSet ordinal). Random if
   * unset, which is only safe for a single instance.
   */
  NODE_ID: z.coerce.number().int().min(0).max(31).default(() => randomInt(0, 32)),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Bulkhead: handlers one instance runs at once; the rest wait on the channel for other instances. */
  RPC_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(32),
  /**
   * Messages a process-local channel (an RPC reply inbox, a live-availability inbox) holds. Sized to
   * the replies one process can have outstanding (every call in flight across its requests), not
   * the default 100 of named channels; a server waits for room until the deadline before giving up
   * on a reply (and then logs and counts it). Default 10000.
   */
  BUS_REPLY_CAPACITY: z.coerce.number().int().min(100).max(1_000_000).default(10_000),
  /** Default deadline of a bus call in milliseconds. */
  RPC_DEADLINE_MS: z.coerce.number().int().min(10).max(600_000).default(5000),
  /** Apply pending migrations to every shard at start-up. */
  MIGRATE_ON_START: envBoolean.default(true),
};

export const commonConfigSchema = z.object(commonConfigShape);
export type CommonConfig = z.infer<typeof commonConfigSchema>;

export class ConfigError extends Error {
  readonly code = "CONFIG_INVALID" as const;
  readonly issues: Array<{ variable: string; message: string }>;
  constructor(service: string, issues: Array<{ variable: string; message: string }>) {
    super(`invalid configuration for ${service}:\n${issues.map((i) => `  ${i.variable}: ${i.message}`).join("\n")}`);
    this.name = "ConfigError";
    this.issues = issues;
  }
}

/** Parses the environment once with the service's schema; a bad value fails fast naming the variable. */
export function parseConfig<S extends z.ZodType>(service: string, schema: S, env: Record<string, string | undefined> = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      service,
      result.error.issues.map((issue) => ({ variable: issue.path.join(".") || "(env)", message: issue.message })),
    );
  }
  return result.data;
}
