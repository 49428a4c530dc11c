// The embedded platform's environment (`npm start`): where it listens, where the data lives, and
// the few knobs a laptop user turns. Every service's own settings pass through unchanged.
import { commonConfigShape, envBoolean, parseConfig } from "@boxoffice/runtime";
import { z } from "zod";

export const platformConfigSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  HOST: z.string().min(1).default("127.0.0.1"),
  /** Embedded databases, session keys; kept across restarts. */
  DATA_DIR: z.string().min(1).default(".data"),
  /** Start from empty data (same as `--fresh`). */
  FRESH: envBoolean.default(false),
  /** Hold lifetime in seconds, passed to inventory. */
  HOLD_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(600),
  /** Demo organiser, buyer and events (idempotent across restarts). */
  SEED_DEMO: envBoolean.default(true),
  /** Quieter than a service's default: the console shows the banner and problems. */
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("warn"),
  /** OpenTelemetry: spans of every service in this process go to this OTLP (http/protobuf) collector; unset: off. */
  OTEL_EXPORTER_OTLP_ENDPOINT: commonConfigShape.OTEL_EXPORTER_OTLP_ENDPOINT,
  OTEL_SERVICE_NAME: z.string().min(1).default("boxoffice"),
});

export type PlatformConfig = z.infer<typeof platformConfigSchema>;

export function loadPlatformConfig(env: Record<string, string | undefined> = process.env, argv: readonly string[] = []): PlatformConfig {
  const config = parseConfig("platform", platformConfigSchema, env);
  return argv.includes("--fresh") ? { ...config, FRESH: true } : config;
}
