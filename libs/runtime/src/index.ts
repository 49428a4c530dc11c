// @boxoffice/runtime: what every service process shares — the common env config fields, the logger,
// connecting to the bus and firehose, and the start/drain/stop lifecycle of main.ts.
export { commonConfigSchema, commonConfigShape, ConfigError, envBoolean, parseConfig, refusePublicDefaults } from "./config.ts";
export type { CommonConfig, PublicDefaults } from "./config.ts";
export { connectInfrastructure, redisTlsOf, serviceTrust, withRedisCredentials } from "./infrastructure.ts";
export type { Infrastructure, ServiceTrust } from "./infrastructure.ts";
export { createLogger, withTrace } from "./logger.ts";
export type { Logger, LoggerOptions } from "./logger.ts";
export { runServiceProcess } from "./process.ts";
export type { RunningService, ServiceProcessOptions } from "./process.ts";
export { otlpTracesUrl, startTracing } from "./tracing.ts";
export type { Tracing, TracingOptions } from "./tracing.ts";
