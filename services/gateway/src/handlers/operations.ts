// Operations endpoints: liveness, readiness (the bus works and services answer their health method),
// Prometheus metrics.
import type { FastifyInstance } from "fastify";
import type { GatewayContext } from "../app.ts";

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
