// The one place a service process starts and stops: parse config, connect, build, start; on
// SIGTERM/SIGINT stop taking work, finish what was taken, close connections. Only main.ts calls it.
import type { z } from "zod";
import { parseConfig, refusePublicDefaults, type CommonConfig, type PublicDefaults } from "./config.ts";
import { connectInfrastructure, type Infrastructure } from "./infrastructure.ts";
import { createLogger, type Logger } from "./logger.ts";
import { startTracing } from "./tracing.ts";

export interface RunningService {
  stop(): Promise<void>;
}

export interface ServiceProcessOptions<S extends z.ZodType<CommonConfig>> {
  service: string;
  configSchema: S;
  start(config: z.infer<S>, deps: Infrastructure & { logger: Logger }): Promise<RunningService>;
  /** Settings still at a public development value, refused when NODE_ENV=production. */
  publicDefaults?: PublicDefaults<z.infer<S>>;
  /** Milliseconds to finish in-flight work after a stop signal before exiting anyway. */
  drainTimeoutMs?: number;
}

export async function runServiceProcess<S extends z.ZodType<CommonConfig>>(options: ServiceProcessOptions<S>): Promise<void> {
  const config = parseConfig(options.service, options.configSchema);
  refusePublicDefaults(options.service, config, options.publicDefaults);
  const logger = createLogger({ service: options.service, level: config.LOG_LEVEL });
  // Before anything connects or serves, so the first request is traced too; off without an endpoint.
  const tracing = startTracing({ service: config.OTEL_SERVICE_NAME ?? options.service, endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });
  const infrastructure = connectInfrastructure(config);
  let running: RunningService;
  try {
    running = await options.start(config, { ...infrastructure, logger });
  } catch (error) {
    logger.fatal({ err: error }, "failed to start");
    await infrastructure.close().catch(() => {});
    await tracing?.stop().catch(() => {});
    process.exitCode = 1;
    // Whatever the half-done start left behind (a listening server, a Redis client still retrying,
    // a timer) must not keep an unready process alive: the supervisor restarts a process that exits.
    setTimeout(() => process.exit(1), 2000).unref();
    return;
  }
  logger.info({ nodeId: config.NODE_ID }, "started");

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping: finishing in-flight work");
    const timer = setTimeout(() => {
      logger.warn("drain timed out; exiting");
      process.exit(1);
    }, options.drainTimeoutMs ?? 15_000);
    timer.unref();
    try {
      await running.stop();
    } finally {
      await infrastructure.close();
      // The last spans (the drain's) go out before the process ends.
      await tracing?.stop().catch((error: unknown) => logger.warn({ err: error }, "flushing traces failed"));
      logger.info("stopped");
      clearTimeout(timer);
    }
  };
  const stopAndReport = (reason: string) =>
    stop(reason).catch((error: unknown) => {
      logger.error({ err: error }, "stop failed");
      process.exitCode = 1;
    });
  process.once("SIGTERM", () => stopAndReport("SIGTERM"));
  process.once("SIGINT", () => stopAndReport("SIGINT"));
  // A truly unexpected error (a bug, not infrastructure trouble: that is handled where it happens):
  // log it once, drain what can be drained, and exit non-zero so the supervisor (compose,
  // Kubernetes, the distributed runner) starts a fresh process instead of one limping on.
  const fatal = (kind: string) => (error: unknown) => {
    logger.fatal({ err: error }, `${kind}: exiting`);
    process.exitCode = 1;
    const exit = () => process.exit(1);
    stopAndReport(kind).then(exit, exit);
  };
  process.once("uncaughtException", fatal("uncaught exception"));
  process.once("unhandledRejection", fatal("unhandled rejection"));
}
