// Operations endpoints: liveness, readiness (the bus works and services answer their health method),
// Prometheus metrics.
import { BlockList, isIPv6 } from "node:net";
import type { FastifyInstance } from "fastify";
import type { GatewayContext } from "../app.ts";
import type { GatewayConfig } from "../config.ts";
import { GatewayError } from "../errors.ts";

/** Paths only OPERATIONS_ALLOW may read: what the process exposes about itself and its API. */
const OPERATIONS_PATHS = /^\/(metrics|docs)(\/|\?|$)/;

/** 404 (as if absent) for /metrics and /docs to clients outside OPERATIONS_ALLOW. */
export function registerOperationsGuard(app: FastifyInstance, config: Pick<GatewayConfig, "OPERATIONS_ALLOW">): void {
  const allow = config.OPERATIONS_ALLOW;
  if (allow === "any") return;
  const list = new BlockList();
  for (const entry of allow) {
    const [address, prefix] = entry.split("/");
    const type = isIPv6(address) ? "ipv6" : "ipv4";
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  const allowed = (ip: string) => {
    const plain = ip.startsWith("::ffff:") ? ip.slice(7) : ip;
    return list.check(plain, isIPv6(plain) ? "ipv6" : "ipv4");
  };
  app.addHook("onRequest", async (request) => {
    if (OPERATIONS_PATHS.test(request.url) && !allowed(request.ip)) throw new GatewayError("NOT_FOUND");
  });
}

export function registerOperationsRoutes(app: FastifyInstance, context: GatewayContext): void {
  const { backend, metrics } = context;

  app.get("/healthz", { schema: { tags: ["operations"], summary: "The process is alive" } }, async () => ({ status: "ok" }));

  // Ready means this gateway can serve: the bus works and services answer it. One service (or one
  // of its shards) in trouble makes the site degraded, not the gateway unready — otherwise a single
  // shard outage would take every gateway out of the load balancer and the whole site down.
  app.get("/readyz", { schema: { tags: ["operations"], summary: "The bus works and services answer their health method" } }, async (_request, reply) => {
    let services: Record<string, boolean>;
    try {
      services = await backend.health();
    } catch (error) {
      return reply.status(503).header("retry-after", String(context.config.BUSY_RETRY_AFTER_SECONDS)).send({ status: "unavailable", error: (error as Error).message });
    }
    const healthy = Object.values(services).filter(Boolean).length;
    if (healthy === 0) return reply.status(503).header("retry-after", String(context.config.BUSY_RETRY_AFTER_SECONDS)).send({ status: "unavailable", services });
    return reply.status(200).send({ status: healthy === Object.keys(services).length ? "ready" : "degraded", services });
  });

  app.get("/metrics", { schema: { tags: ["operations"], summary: "Prometheus metrics", hide: true } }, async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
}
