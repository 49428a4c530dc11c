// OpenTelemetry for a process: a tracer provider that batches spans to an OTLP collector
// (http/protobuf) when OTEL_EXPORTER_OTLP_ENDPOINT is set, and nothing at all when it is not — the
// libs then get the API's no-op spans. The libs write spans with @opentelemetry/api only; this is
// the one place that picks the SDK, the context manager and the exporter.
import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { TracerProvider, BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace";

export interface TracingOptions {
  /** `service.name` of every span this process records. */
  service: string;
  /** OTLP base URL (OTEL_EXPORTER_OTLP_ENDPOINT); spans are POSTed to `<endpoint>/v1/traces`. */
  endpoint?: string;
  /** Instead of OTLP, hand each ended span to this exporter at once (tests: an InMemorySpanExporter). */
  exporter?: SpanExporter;
}

export interface Tracing {
  /** Exports what is still buffered. */
  flush(): Promise<void>;
  /** Flushes, then unregisters the provider: spans are no-ops again. */
  stop(): Promise<void>;
}

/** The OTLP traces URL for a base endpoint, as the OTLP exporter spec builds it from OTEL_EXPORTER_OTLP_ENDPOINT. */
export function otlpTracesUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, "")}/v1/traces`;
}

/**
 * Registers a global tracer provider, AsyncLocalStorage context and W3C propagator when there is
 * somewhere to send spans (an endpoint or an exporter); returns undefined, registering nothing,
 * when there is not. One per process: the OpenTelemetry API's globals are per process.
 */
export function startTracing(options: TracingOptions): Tracing | undefined {
  if (!options.endpoint && !options.exporter) return undefined;
  const processor = options.exporter
    ? new SimpleSpanProcessor({ exporter: options.exporter })
    : new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: otlpTracesUrl(options.endpoint as string) }) });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": options.service }),
    spanProcessors: [processor],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return {
    flush: () => provider.forceFlush(),
    async stop() {
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

