// Prometheus metrics of one gateway instance. Each gateway gets its own registry so several
// instances (tests, the embedded platform) never share counters.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface GatewayMetrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<"method" | "route" | "status">;
  readonly httpDuration: Histogram<"method" | "route" | "status">;
  readonly busCallDuration: Histogram<"method" | "outcome">;
  readonly cacheLookups: Counter<"result">;
  readonly openSockets: Gauge;
}

export function createGatewayMetrics(options: { defaultMetrics?: boolean } = {}): GatewayMetrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: "gateway_" });
  return {
    registry,
    httpRequests: new Counter({
      name: "gateway_http_requests_total",
      help: "HTTP requests by route and status",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "gateway_http_request_duration_seconds",
      help: "HTTP request latency by route and status",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    busCallDuration: new Histogram({
      name: "gateway_bus_call_duration_seconds",
      help: "Latency of RPC calls over the bus by method and outcome (ok or error code)",
      labelNames: ["method", "outcome"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    cacheLookups: new Counter({
      name: "gateway_catalogue_cache_lookups_total",
      help: "Catalogue cache lookups by result (hit or miss); hit ratio = hit / (hit + miss)",
      labelNames: ["result"],
      registers: [registry],
    }),
    openSockets: new Gauge({
      name: "gateway_live_sockets_open",
      help: "Open live-availability WebSockets",
      registers: [registry],
    }),
  };
}
