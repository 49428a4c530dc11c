// Spans for what travels on the bus (RPC calls, firehose publishes and deliveries), written against
// @opentelemetry/api only. Which SDK records them, and where they go, is the process's choice
// (@boxoffice/runtime's startTracing). With no tracer provider registered, the call sites check
// `tracingOn()` (one global lookup) and take the untraced path: no span, no context, no parsing.
import { context as otelContext, ProxyTracerProvider, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from "@opentelemetry/api";
import { traceIdOf } from "../rpc/context.ts";

/** The tracer every span of this package comes from (the instrumentation scope in exported spans). */
export const busTracer = trace.getTracer("@boxoffice/bus");

/** What the API's global proxy hands spans to while no provider is registered. */
const NO_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * Whether a tracer provider is registered. False: the API would only hand out no-op spans, so the
 * call sites skip spans altogether. (A provider registered through another copy of the API counts
 * as on: the spans are then made and the provider decides.)
 */
export function tracingOn(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NO_PROVIDER;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** `base` with the W3C `traceparent` as its (remote) parent span; `base` itself when absent or invalid. */
export function contextWithTraceparent(traceparent: string | undefined, base: Context = ROOT_CONTEXT): Context {
  if (!traceparent) return base;
  const match = TRACEPARENT.exec(traceparent);
  if (!match || traceIdOf(traceparent) === undefined) return base;
  return trace.setSpanContext(base, { traceId: match[2], spanId: match[3], traceFlags: Number.parseInt(match[4], 16) & 1, isRemote: true });
}

/** The W3C traceparent naming `span` as the parent. */
export function traceparentOf(span: Span): string {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-0${traceFlags & 1}`;
}

/**
 * The traceparent of the span running now (a handler's, an HTTP request's), when one is recorded;
 * what a service stores beside work done later (an outbox row) so that work joins this trace.
 */
export function activeTraceparent(): string | undefined {
  const span = trace.getActiveSpan();
  return span?.isRecording() ? traceparentOf(span) : undefined;
}

const CLIENT = { kind: SpanKind.CLIENT };
const SERVER = { kind: SpanKind.SERVER };
const PRODUCER = { kind: SpanKind.PRODUCER };
const CONSUMER = { kind: SpanKind.CONSUMER };

export const SPAN_OPTIONS = { CLIENT, SERVER, PRODUCER, CONSUMER } as const;

/** Marks `span` failed with what was thrown (an RpcError's code becomes `error.type`). */
export function recordFailure(span: Span, error: unknown): void {
  const code = (error as { code?: unknown } | null)?.code;
  span.setAttribute("error.type", typeof code === "string" ? code : error instanceof Error ? error.name : "Error");
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/**
 * Runs `fn` in a new span under `parent()` (made current while `fn` runs, so SQL statements and
 * calls it makes become its children). Tracing off or not recording: just `fn()`.
 */
export async function inSpan<T>(name: string, options: { kind: SpanKind }, parent: () => Context, attributes: () => Attributes, fn: (span: Span | undefined) => Promise<T> | T): Promise<T> {
  if (!tracingOn()) return fn(undefined);
  const parentContext = parent();
  const span = busTracer.startSpan(name, options, parentContext);
  if (!span.isRecording()) return fn(undefined);
  span.setAttributes(attributes());
  try {
    return await otelContext.with(trace.setSpan(parentContext, span), () => fn(span));
  } catch (error) {
    recordFailure(span, error);
    throw error;
  } finally {
    span.end();
  }
}
