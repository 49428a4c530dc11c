// The gateway bounds its own work. Requests in progress are counted per route class (checkout,
// waiting room, everything else under /api) and the event loop's delay is watched; past a bound a
// new request is answered 503 BUSY with Retry-After at once, before any work is done — the server
// never holds more than it can finish while clients time out. Behind a trusted load balancer that
// stamps X-Request-Start, a request that already waited too long to be read is shed too (and every
// request's wait is measured). Health, metrics and the static UI are never shed (a load balancer
// must still see the instance alive).
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import { GatewayError } from "./errors.ts";

export type RouteClass = "checkout" | "queue" | "other";

export interface EdgeSheddingOptions {
  readonly limits: Record<RouteClass, number>;
  /** Mean delay over the last second above which new API requests are shed. */
  readonly maxEventLoopDelayMs: number;
  /**
   * Retry-After (seconds) of a request shed at its class's in-flight bound, when it differs from the
   * gateway's BUSY default (checkout: an admitted buyer, and the bound drains in a fraction of a second).
   */
  readonly retryAfterSeconds?: Partial<Record<RouteClass, number>>;
  /** Told of every request shed (the waiting room slows admissions when checkout is shed). */
  readonly onShed?: (routeClass: RouteClass) => void;
  /**
   * Believe the `X-Request-Start` header (set by the load balancer in front: only when one is trusted,
   * TRUST_PROXY). It says when the balancer passed the request on, so the gateway sees how long the
   * request waited to be read (in its socket, behind a busy event loop) before anything here ran.
   */
  readonly requestStart?: {
    /** A request that waited longer than this is answered 503 BUSY at once: its client is likely gone or about to be. */
    readonly maxQueueMs: number;
    /** Told how long each request with the header waited (ms), shed or not. */
    readonly onQueued?: (routeClass: RouteClass | undefined, queuedMs: number) => void;
  };
}

/**
 * When the load balancer passed the request on (ms since the epoch), from `X-Request-Start`: nginx's
 * `t=${msec}` (seconds with milliseconds), or milliseconds or microseconds since the epoch as other
 * proxies write it (Heroku, HAProxy `t=%Ts%ms`); undefined when absent or unreadable.
 */
export function requestStartMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  if (typeof header !== "string") return undefined;
  const value = Number(header.startsWith("t=") ? header.slice(2) : header);
  if (!Number.isFinite(value) || value <= 0) return undefined;
  // Seconds (1.7e9), milliseconds (1.7e12) or microseconds (1.7e15) since the epoch: the one within a day of now.
  for (const ms of [value * 1000, value, value / 1000]) if (Math.abs(now - ms) < 86_400_000) return ms;
  return undefined;
}

export interface LoopSample {
  meanMs: number;
  maxMs: number;
  /** The mean delay beyond the sampler's own 20 ms period: 0 when idle. */
  lagMs: number;
  /** performance.eventLoopUtilization over the second: 1 when the loop never waited. */
  utilization: number;
}

const RESOLUTION_MS = 20;

export interface EdgeShedding {
  onRequest(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void;
  inFlight(routeClass: RouteClass): number;
  /** The event loop over the last whole second: delay (mean and max, ms), lag beyond the sampling resolution, busy share. */
  loopDelay(): LoopSample;
  close(): void;
}

/** Which bound a request counts against; undefined: never shed. */
export function routeClassOf(method: string, url: string): RouteClass | undefined {
  if (!url.startsWith("/api/")) return undefined;
  // The organiser's stats and controls are not a waiting buyer's poll: 40,000 pollers filling the
  // queue bound must not shed the organiser's pause (in the 5,000-buyer bench it took 98 s of retries).
  if (url.includes("/queue")) return method === "PATCH" || url.endsWith("/queue/stats") ? "other" : "queue";
  if (method === "POST" && (url.endsWith("/holds") || url === "/api/orders")) return "checkout";
  return "other";
}

export function createEdgeShedding(options: EdgeSheddingOptions): EdgeShedding {
  const inFlight: Record<RouteClass, number> = { checkout: 0, queue: 0, other: 0 };
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  delay.enable();
  let loopTooSlow = false;
  let last: LoopSample = { meanMs: 0, maxMs: 0, lagMs: 0, utilization: 0 };
  let busy = performance.eventLoopUtilization();
  const sampler = setInterval(() => {
    const utilization = performance.eventLoopUtilization(busy).utilization;
    busy = performance.eventLoopUtilization();
    if (delay.count > 0) {
      const meanMs = delay.mean / 1e6;
      last = { meanMs, maxMs: delay.max / 1e6, lagMs: Math.max(0, meanMs - RESOLUTION_MS), utilization };
    }
    loopTooSlow = last.meanMs > options.maxEventLoopDelayMs;
    delay.reset();
  }, 1000);
  sampler.unref();

  return {
    onRequest(request, reply, done) {
      const routeClass = routeClassOf(request.method, request.routeOptions.url ?? request.url.split("?")[0]);
      let queuedMs = 0;
      if (options.requestStart) {
        const now = Date.now();
        const start = requestStartMs(request.headers["x-request-start"], now);
        if (start !== undefined) {
          queuedMs = Math.max(0, now - start);
          options.requestStart.onQueued?.(routeClass, queuedMs);
        }
      }
      if (routeClass === undefined) return done();
      if (queuedMs > (options.requestStart?.maxQueueMs ?? Infinity)) {
        // Work its client has likely given up on: answering it costs less than doing it.
        options.onShed?.(routeClass);
        return done(new GatewayError("BUSY", "this request waited too long to be read; retry in a moment"));
      }
      if (loopTooSlow) {
        options.onShed?.(routeClass);
        return done(new GatewayError("BUSY", "this server is overloaded; retry in a moment"));
      }
      if (inFlight[routeClass] >= options.limits[routeClass]) {
        options.onShed?.(routeClass);
        return done(new GatewayError("BUSY", "we are very busy; retry in a moment", { retryAfterSeconds: options.retryAfterSeconds?.[routeClass] }));
      }
      inFlight[routeClass]++;
      // 'close' fires once whether the answer was sent or the client went away.
      reply.raw.once("close", () => {
        inFlight[routeClass]--;
      });
      done();
    },
    inFlight: (routeClass) => inFlight[routeClass],
    loopDelay: () => last,
    close() {
      clearInterval(sampler);
      delay.disable();
    },
  };
}
