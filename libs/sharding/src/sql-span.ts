// A span per SQL statement, around the lib's own query path (every service's raw SQL goes through
// an SqlExecutor). Only inside a traced request: background polls (relays, reapers) would otherwise
// make a one-span trace every few hundred milliseconds. Tracing off, it costs one context lookup.
import { context as otelContext, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";

const tracer = trace.getTracer("@boxoffice/sharding");
const CLIENT = { kind: SpanKind.CLIENT };
/**
 * Statements are cut here in spans: enough to recognise one — including a capture written as one
 * statement of several CTEs, whose outbox insert starts past character 500 — without shipping a
 * bulk insert's text.
 */
const MAX_STATEMENT_CHARS = 2000;

export function inSqlSpan<T>(shard: string, text: string, run: () => Promise<T>): Promise<T> {
  const parent = otelContext.active();
  if (trace.getSpan(parent) === undefined) return run();
  const operation = /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? "SQL";
  const span = tracer.startSpan(`${operation} ${shard}`, CLIENT, parent);
  if (!span.isRecording()) return run();
  span.setAttributes({
    "db.system.name": "postgresql",
    "db.namespace": shard,
    "db.operation.name": operation,
    "db.query.text": text.length > MAX_STATEMENT_CHARS ? `${text.slice(0, MAX_STATEMENT_CHARS)}…` : text,
  });
  return run().then(
    (result) => {
      span.end();
      return result;
    },
    (error: unknown) => {
      const code = (error as { code?: unknown } | null)?.code;
      span.setAttribute("error.type", typeof code === "string" ? code : "Error");
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      span.end();
      throw error;
    },
  );
}
