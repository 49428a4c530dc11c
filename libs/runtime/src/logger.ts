// Structured logs: one pino logger per process, a child per service, the trace id on every line
// written while handling a request.
import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger } from "pino";

export interface LoggerOptions {
  service: string;
  level?: LevelWithSilent;
  /** Write to this stream instead of stdout (tests capture lines here). */
  destination?: { write(line: string): void };
}

export function createLogger(options: LoggerOptions): Logger {
  const base = { service: options.service };
  const level = options.level ?? "info";
  if (options.destination) return pino({ level, base }, options.destination);
  return pino({ level, base });
}

/** A child logger that stamps the W3C trace id of the request it serves. */
export function withTrace(logger: Logger, traceId: string | undefined): Logger {
  return traceId ? logger.child({ traceId }) : logger;
}
