// The operator console's one route (shared/reference/http-api.md, "The operator console (v1.1)"):
// operators only; 401 without a session, 403 for buyers and organisers.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { httpErrorBodySchema, httpOpsOverviewResponseSchema } from "@boxoffice/contracts";
import type { GatewayContext } from "../app.ts";
import { GatewayError } from "../errors.ts";
import { authenticatedCaller } from "../session.ts";

export function registerOpsConsoleRoutes(parent: FastifyInstance, context: GatewayContext): void {
  const app = parent.withTypeProvider<ZodTypeProvider>();
  app.get("/ops/overview", {
    schema: {
      tags: ["operations"],
      summary: "The running platform: processes, RPC methods, request channels, shards, firehose, waiting rooms (operators)",
      response: { 200: httpOpsOverviewResponseSchema, 401: httpErrorBodySchema, 403: httpErrorBodySchema, 503: httpErrorBodySchema },
    },
  }, async (request) => {
    const caller = await authenticatedCaller(request, context.backend, context.config.SESSION_TTL_SECONDS);
    if (caller.user.role !== "operator") throw new GatewayError("FORBIDDEN", "only operators see the operator console");
    return { overview: await context.ops.overview() };
  });
}
