// Prometheus metrics of one gateway instance. Each gateway gets its own registry so several
// instances (tests, the embedded platform) never share counters.
import type { HttpOpsOverview } from "@boxoffice/contracts";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Server } from "node:http";
import type { AdmissionWindow } from "./domain/admission-rate.ts";
import type { EdgeShedding } from "./edge-shedding.ts";

/** The route whose cached pages are answered before fastify (handlers/catalogue.ts, http-server.ts). */
const EARLY_ANSWER_ROUTE = "/api/events/:eventId";

export interface GatewayMetrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<"method" | "route" | "status">;
  readonly httpDuration: Histogram<"method" | "route" | "status">;
  readonly busCallDuration: Histogram<"method" | "outcome">;
  /** How long requests waited between the load balancer and the gateway's first look (X-Request-Start). */
  readonly requestQueue: Histogram<"class">;
  readonly cacheLookups: Counter<"result">;
  readonly openSockets: Gauge;
  /**
   * The hottest path counts in plain numbers (no label hashing per request); the counters above add
   * them when scraped. A catalogue cache hit, for gateway_catalogue_cache_lookups_total:
   */
  cacheHit(): void;
  /** A cached event page answered before fastify, for gateway_http_requests_total (not timed: it never waits). */
  earlyPageAnswered(status: 200 | 304): void;
}

export function createGatewayMetrics(options: { defaultMetrics?: boolean } = {}): GatewayMetrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: "gateway_" });
  let cacheHits = 0;
  const early = { 200: 0, 304: 0 };
  return {
    registry,
    httpRequests: new Counter({
      name: "gateway_http_requests_total",
      help: "HTTP requests by route and status",
      labelNames: ["method", "route", "status"],
      registers: [registry],
      collect() {
        for (const status of [200, 304] as const) {
          if (early[status] === 0) continue;
          this.inc({ method: "GET", route: EARLY_ANSWER_ROUTE, status: String(status) }, early[status]);
          early[status] = 0;
        }
      },
    }),
    httpDuration: new Histogram({
      name: "gateway_http_request_duration_seconds",
      help: "HTTP request latency by route and status",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    requestQueue: new Histogram({
      name: "gateway_http_request_queue_seconds",
      help: "How long requests waited from the load balancer's X-Request-Start to the gateway's first look, by route class (checkout, queue, other, none); past REQUEST_QUEUE_MAX_MS they are shed",
      labelNames: ["class"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
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
      collect() {
        if (cacheHits === 0) return;
        this.inc({ result: "hit" }, cacheHits);
        cacheHits = 0;
      },
    }),
    openSockets: new Gauge({
      name: "gateway_live_sockets_open",
      help: "Open live-availability WebSockets",
      registers: [registry],
    }),
    cacheHit() {
      cacheHits++;
    },
    earlyPageAnswered(status) {
      early[status]++;
    },
  };
}

/**
 * The operator console's picture as Prometheus gauges on this gateway's /metrics (the dashboard in
 * infra/grafana reads them): computed from the ops reports at scrape time, off every request's path.
 * Every gateway sees the whole platform, so these are platform-wide: aggregate with max across gateways.
 */
export const OPS_GAUGES = {
  instanceUp: { name: "boxoffice_instance_up", help: "1 while a process reports to the ops group, 0 once gone", labelNames: ["service", "instance"] },
  instanceHandled: { name: "boxoffice_instance_handled_per_second", help: "Requests a process answered per second (RPC, or HTTP for gateways), over the console's window", labelNames: ["service", "instance"] },
  instanceInFlight: { name: "boxoffice_instance_in_flight", help: "Requests a process is handling now", labelNames: ["service", "instance"] },
  rpcCalls: { name: "boxoffice_rpc_calls_per_second", help: "RPC calls served per second by method, all instances, over the console's window", labelNames: ["method"] },
  rpcErrors: { name: "boxoffice_rpc_errors_per_second", help: "RPC calls answered with an error per second by method", labelNames: ["method"] },
  rpcLatency: { name: "boxoffice_rpc_latency_seconds", help: "RPC handler latency by method (quantile 0.5 or 0.99, from the servers' histograms)", labelNames: ["method", "quantile"] },
  channelDepth: { name: "boxoffice_channel_depth", help: "Messages waiting on a service's request channel", labelNames: ["channel"] },
  channelCapacity: { name: "boxoffice_channel_capacity", help: "Capacity of a service's request channel (BUSY when full)", labelNames: ["channel"] },
  shardReachable: { name: "boxoffice_shard_reachable", help: "1 when a service's physical shard answered its probe", labelNames: ["service", "shard"] },
  firehoseLag: { name: "boxoffice_firehose_group_lag", help: "Entries of the stream not yet delivered to the consumer group", labelNames: ["stream", "group"] },
  firehosePending: { name: "boxoffice_firehose_group_pending", help: "Delivered to the consumer group and not acknowledged", labelNames: ["stream", "group"] },
  firehoseDeadLetters: { name: "boxoffice_firehose_dead_letters", help: "Events in the stream's dead-letter stream (replay with npm run firehose -- replay)", labelNames: ["stream"] },
  roomWaiting: { name: "boxoffice_waiting_room_waiting", help: "Buyers waiting in an event's waiting room", labelNames: ["event_id"] },
  roomAdmittedPerMinute: { name: "boxoffice_waiting_room_admitted_per_minute", help: "Admissions per minute of an event's waiting room", labelNames: ["event_id"] },
} as const;

export function registerOpsGauges(registry: Registry, overview: () => Promise<HttpOpsOverview>): void {
  const gauges = Object.fromEntries(
    Object.entries(OPS_GAUGES).map(([key, spec]) => [key, new Gauge({ name: spec.name, help: spec.help, labelNames: [...spec.labelNames], registers: [registry] })]),
  ) as { [K in keyof typeof OPS_GAUGES]: Gauge<string> };
  // prom-client collects every metric at once: one overview per scrape fills them all, and each
  // gauge's collect waits for it.
  let filling: Promise<void> | undefined;
  const fill = () => (filling ??= fillFrom().finally(() => (filling = undefined)));
  for (const gauge of Object.values(gauges)) (gauge as Gauge<string> & { collect?: () => Promise<void> }).collect = fill;
  async function fillFrom(): Promise<void> {
    for (const gauge of Object.values(gauges)) gauge.reset();
    let o: HttpOpsOverview;
    try {
      o = await overview();
    } catch {
      return; // the firehose cannot be read now: this scrape has no console gauges
    }
    for (const i of o.instances) {
      const labels = { service: i.service, instance: i.instance };
      gauges.instanceUp.set(labels, i.gone ? 0 : 1);
      gauges.instanceHandled.set(labels, i.handledPerSecond);
      gauges.instanceInFlight.set(labels, i.inFlight);
    }
    for (const m of o.methods) {
      gauges.rpcCalls.set({ method: m.method }, m.callsPerSecond);
      gauges.rpcErrors.set({ method: m.method }, m.errorsPerSecond);
      if (m.p50Ms !== null) gauges.rpcLatency.set({ method: m.method, quantile: "0.5" }, m.p50Ms / 1000);
      if (m.p99Ms !== null) gauges.rpcLatency.set({ method: m.method, quantile: "0.99" }, m.p99Ms / 1000);
    }
    for (const c of o.channels) {
      gauges.channelDepth.set({ channel: c.name }, c.depth);
      gauges.channelCapacity.set({ channel: c.name }, c.capacity);
    }
    for (const s of o.shards) gauges.shardReachable.set({ service: s.service, shard: s.shard }, s.reachable ? 1 : 0);
    for (const f of o.firehose) {
      if (f.lag !== null) gauges.firehoseLag.set({ stream: f.stream, group: f.group }, f.lag);
      gauges.firehosePending.set({ stream: f.stream, group: f.group }, f.pending);
      gauges.firehoseDeadLetters.set({ stream: f.stream }, f.deadLetters);
    }
    for (const r of o.rooms) {
      gauges.roomWaiting.set({ event_id: r.eventId }, r.waiting);
      gauges.roomAdmittedPerMinute.set({ event_id: r.eventId }, r.admittedPerMinute);
    }
  }
}

/** What the edge shedding sees (edge-shedding.ts): the event loop's delay and requests in progress per route class. */
export function registerSheddingGauges(registry: Registry, shedding: Pick<EdgeShedding, "loopDelay" | "inFlight">): void {
  new Gauge({
    name: "gateway_event_loop_delay_seconds",
    help: "The event loop's delay over the last second (stat: mean or max); past EVENT_LOOP_MAX_DELAY_MS (mean) API requests are shed",
    labelNames: ["stat"],
    registers: [registry],
    collect() {
      const { meanMs, maxMs } = shedding.loopDelay();
      this.set({ stat: "mean" }, meanMs / 1000);
      this.set({ stat: "max" }, maxMs / 1000);
    },
  });
  new Gauge({
    name: "gateway_event_loop_utilization",
    help: "Share of the last second the event loop was busy (1: saturated); above ADMISSION_MAX_LOOP_UTILIZATION the waiting room admits no faster",
    registers: [registry],
    collect() {
      this.set(shedding.loopDelay().utilization);
    },
  });
  new Gauge({
    name: "gateway_requests_in_flight",
    help: "API requests in progress by route class (checkout, queue, other), each bounded by INFLIGHT_MAX_*",
    labelNames: ["class"],
    registers: [registry],
    collect() {
      for (const routeClass of ["checkout", "queue", "other"] as const) this.set({ class: routeClass }, shedding.inFlight(routeClass));
    },
  });
}

/**
 * The waiting room's admission controller (domain/admission-rate.ts): the rate it admits at now, and
 * each judged window's decision and checkout p99, so an operator (and the on-sale bench's trace) sees
 * why the room admits what it does. Returns the controller's `onWindow`.
 */
export function registerAdmissionMetrics(registry: Registry, rate: () => number): (window: AdmissionWindow) => void {
  new Gauge({
    name: "gateway_admission_rate_per_second",
    help: "Waiting-room admissions per second this gateway allows now (set by checkout's measured latency and the event loop)",
    registers: [registry],
    collect() {
      this.set(rate());
    },
  });
  const windows = new Counter({
    name: "gateway_admission_windows_total",
    help: "Judged windows of the admission controller by decision (shed, settling, loop_lag, slow: cuts or pauses; rise; held)",
    labelNames: ["decision"],
    registers: [registry],
  });
  const p99 = new Gauge({
    name: "gateway_admission_window_p99_seconds",
    help: "The last judged window's checkout p99 (a hold's p99 plus an order's), the figure set against CHECKOUT_LATENCY_TARGET_MS",
    registers: [registry],
  });
  return (window) => {
    windows.inc({ decision: window.decision });
    if (window.p99Ms !== null) p99.set(window.p99Ms / 1000);
  };
}

/**
 * What the HTTP server itself saw, below fastify: connections accepted and requests parsed. Set
 * beside gateway_http_requests_total (answers) they say whether a request a client gave up on ever
 * reached this process.
 */
export function registerServerCounters(registry: Registry, server: Pick<Server, "on">): void {
  const connections = new Counter({ name: "gateway_connections_accepted_total", help: "TCP connections this gateway's HTTP server accepted", registers: [registry] });
  const requests = new Counter({ name: "gateway_requests_received_total", help: "HTTP requests this gateway's server parsed (before any hook)", registers: [registry] });
  server.on("connection", () => connections.inc());
  server.on("request", () => requests.inc());
}

