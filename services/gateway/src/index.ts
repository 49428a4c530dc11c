// @boxoffice/gateway: the presentation layer (HTTP API, web UI, live sockets, sessions, caches).
export { buildGateway } from "./app.ts";
export type { Gateway, GatewayDeps } from "./app.ts";
export { gatewayConfigSchema, loadGatewayConfig } from "./config.ts";
export type { GatewayConfig } from "./config.ts";
export { ensureWebUiBuilt, formatBundleSizes, readBundleSizes } from "./web-ui.ts";
export type { BundleSizes } from "./web-ui.ts";
// The Prometheus metrics a gateway exports on /metrics (the Grafana dashboard's test reads their names).
export { createGatewayMetrics, OPS_GAUGES, registerOpsGauges } from "./metrics.ts";
export type { GatewayMetrics } from "./metrics.ts";
