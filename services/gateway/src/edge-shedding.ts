// The gateway bounds its own work. Requests in progress are counted per route class (checkout,
// waiting room, everything else under /api) and the event loop's delay is watched; past a bound a
// new request is answered 503 BUSY with Retry-After at once, before any work is done — the server
// never holds more than it can finish while clients time out. Health, metrics and the static UI are
// never shed (a load balancer must still see the instance alive).
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import { GatewayError } from "./errors.ts";

export type RouteClass = "checkout" | "queue" | "other";

export interface EdgeSheddingOptions {
  readonly limits: Record<RouteClass, number>;
  /** Mean delay over the last second above which new API requests are shed. */
  readonly maxEventLoopDelayMs: number;
  /** Told of every request shed (the waiting room slows admissions when checkout is shed). */
  readonly onShed?: (routeClass: RouteClass) => void;
}

export interface EdgeShedding {
  onRequest(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void;
  inFlight(routeClass: RouteClass): number;
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
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  let loopTooSlow = false;
  const sampler = setInterval(() => {
    loopTooSlow = delay.mean / 1e6 > options.maxEventLoopDelayMs;
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
        return done(new GatewayError("BUSY", "we are very busy; retry in a moment"));
      }
      inFlight[routeClass]++;
      // 'close' fires once whether the answer was sent or the client went away.
      reply.raw.once("close", () => {
        inFlight[routeClass]--;
      });
      done();
    },
    inFlight: (routeClass) => inFlight[routeClass],
    close() {
      clearInterval(sampler);
      delay.disable();
    },
  };
}
