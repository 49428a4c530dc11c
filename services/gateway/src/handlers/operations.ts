// Operations endpoints: liveness, readiness (the bus and every service's health method answer),
// Prometheus metrics.
import type { FastifyInstance } from "fastify";
import type { GatewayContext } from "../app.ts";

export function registerOperationsRoutes(app: FastifyInstance, context: GatewayContext): void {
  const { backend, metrics } = context;

  app.get("/healthz", { schema: { tags: ["operations"], summary: "The process is alive" } }, async () => ({ status: "ok" }));

  app.get("/readyz", { schema: { tags: ["operations"], summary: "The bus and every service answer their health method" } }, async (_request, reply) => {
    let services: Record<string, boolean>;
    try {
      services = await backend.health();
    } catch (error) {
      return reply.status(503).send({ status: "unavailable", error: (error as Error).message });
    }
    const ready = Object.values(services).every(Boolean);
    return reply.status(ready ? 200 : 503).send({ status: ready ? "ready" : "unavailable", services });
  });

  app.get("/metrics", { schema: { tags: ["operations"], summary: "Prometheus metrics", hide: true } }, async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
}
