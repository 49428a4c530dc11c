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
  /**
   * Keys that encrypt every bus message at rest in Redis (AES-256-GCM; comma-separated, the first
   * encrypts, all decrypt, so a rotation adds the new key first and drops the old one later). Every
   * process of a deployment needs the same list. Unset: messages are stored in clear, which only
   * the one-process memory:// bus should do. Generate one with `openssl rand -hex 32`.
   */
  BUS_ENCRYPTION_KEYS: z
    .string()
    .optional()
    .transform((v) => (v ?? "").split(",").map((k) => k.trim()).filter(Boolean))
    .refine((keys) => keys.every((k) => k.length >= 32), "each key must be at least 32 characters (openssl rand -hex 32)"),
  /**
   * Redis ACL user and password for every redis:// URL above that carries none (Kubernetes puts the
   * URL in a ConfigMap and the password in a Secret). A URL's own user:password@ wins.
   */
  REDIS_USERNAME: z.string().min(1).optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  /**
   * This service's identity on the bus: 64 hex digits (an Ed25519 seed, `openssl rand -hex 32`).
   * Every request it sends carries a short-lived proof signed with it.
   */
  SERVICE_IDENTITY_SECRET: z.string().regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex digits (openssl rand -hex 32)").optional(),
  /**
   * The public identity keys of every service, "gateway=<hex>,users=<hex>,…" (`npm run service-keys`
   * prints them). Set: this service accepts only requests with a valid proof from one of them and
   * enforces each method's declared callers. Unset: callers are taken at their word (one process).
   */
  SERVICE_IDENTITIES: z
    .string()
    .optional()
    .refine((v) => v === undefined || /^\s*([a-z][a-z0-9-]*=[0-9a-fA-F]{64}\s*)(,\s*[a-z][a-z0-9-]*=[0-9a-fA-F]{64}\s*)*$/.test(v), 'must be "<service>=<64 hex digits>" separated by commas'),
  /**
   * The users service's public token keys as a JSON list of JWKs (what users.keys.v1 serves). Set:
   * tokens are verified with these only, never with keys fetched over the bus.
   */
  IDENTITY_TRUSTED_JWKS: z.string().optional(),
  /** PEM file of the CA that signs the rediss:// servers' certificates (bus, firehose); unset: the system's CAs. */
  REDIS_TLS_CA_FILE: z.string().min(1).optional(),
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
  /** "production" makes every service refuse public development defaults (see refusePublicDefaults). */
  NODE_ENV: z.string().optional(),
  /** Apply pending migrations to every shard at start-up. */
  MIGRATE_ON_START: envBoolean.default(true),
  /**
   * OpenTelemetry: the OTLP collector's base URL (http/protobuf; spans go to `<url>/v1/traces`), e.g.
   * http://otel-collector:4318. Unset: tracing is off — no tracer provider, spans are the API's no-ops.
   */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.preprocess((v) => (v === "" ? undefined : v), z.url({ protocol: /^https?$/ }).optional()),
  /** The `service.name` of this process's spans. Default: the service's own name. */
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
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

/**
 * Settings whose value is public (in this repository) and must not reach production: variable name
 * → "is this config still using the public value?".
 */
export type PublicDefaults<C> = Record<string, (config: C) => boolean>;

/**
 * With NODE_ENV=production, refuses (ConfigError naming each variable) a service whose config still
 * has a public development value — the service's own list plus what every bus service needs on a
 * shared Redis: an encrypted bus and service identities.
 */
export function refusePublicDefaults<C extends Partial<CommonConfig>>(service: string, config: C, publicDefaults: PublicDefaults<C> = {}): void {
  if (config.NODE_ENV !== "production") return;
  const issues: Array<{ variable: string; message: string }> = [];
  for (const [variable, isPublic] of Object.entries(publicDefaults)) {
    if (isPublic(config)) issues.push({ variable, message: "is the public development value; set your own secret for production" });
  }
  const onRedis = (url: string | undefined) => typeof url === "string" && url.startsWith("redis");
  if (onRedis(config.BUS_URL)) {
    if (!config.BUS_ENCRYPTION_KEYS?.length) issues.push({ variable: "BUS_ENCRYPTION_KEYS", message: "required in production: without it passwords, card numbers and tokens sit in Redis in clear" });
    if (!config.SERVICE_IDENTITY_SECRET) issues.push({ variable: "SERVICE_IDENTITY_SECRET", message: "required in production: without it this service cannot prove who it is to the others" });
    if (!config.SERVICE_IDENTITIES) issues.push({ variable: "SERVICE_IDENTITIES", message: "required in production: without it anyone with the bus key can call this service as any other" });
  }
  if (issues.length) throw new ConfigError(service, issues);
}
