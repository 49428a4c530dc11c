// The gateway bounds its own work. Requests in progress are counted per route class (checkout,
// waiting room, everything else under /api) and the event loop's delay is watched; past a bound a
// new request is answered 503 BUSY with Retry-After at once, before any work is done — the server
// never holds more than it can finish while clients time out. Health, metrics and the static UI are
// never shed (a load balancer must still see the instance alive).
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
      if (routeClass === undefined) return done();
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
