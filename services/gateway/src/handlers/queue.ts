// The waiting room of an event (v1.1): join, ask where you are, and the organiser's stats and
// controls. The rules live in domain/waiting-room.ts; these routes check the session and shapes.
// The room is the gateway tier's own: no identity token goes anywhere from here, so none is refreshed
// (signedInCaller), and a poll never waits for the users service.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  httpErrorBodySchema,
  httpEventIdParamsSchema,
  httpQueuePatchBodySchema,
  httpQueueResponseSchema,
  httpQueueStatsResponseSchema,
} from "@boxoffice/contracts";
import type { GatewayContext } from "../app.ts";
import { GatewayError } from "../errors.ts";
import { requireWellFormedId } from "../ids.ts";
import { signedInCaller } from "../session.ts";

export function registerQueueRoutes(parent: FastifyInstance, context: GatewayContext): void {
  const app = parent.withTypeProvider<ZodTypeProvider>();
  const { room, joinLimiter } = context;

  app.post("/events/:eventId/queue", {
    schema: {
      tags: ["waiting room"],
      summary: "Join the event's waiting room (joining again returns the same place)",
      params: httpEventIdParamsSchema,
      response: { 200: httpQueueResponseSchema, 401: httpErrorBodySchema, 404: httpErrorBodySchema, 409: httpErrorBodySchema, 429: httpErrorBodySchema },
    },
  }, async (request) => {
    const caller = signedInCaller(request);
    const eventId = requireWellFormedId(request.params.eventId, "event");
    // Per address: many accounts from one place do not crowd out everyone else.
    if (joinLimiter.isBlocked(request.ip)) throw new GatewayError("RATE_LIMITED", "too many joins from this address; wait a minute", { retryAfterSeconds: 60 });
    joinLimiter.recordFailure(request.ip);
    return { queue: await room.join(eventId, caller.user.id) };
  });

  app.get("/events/:eventId/queue", {
    schema: {
      tags: ["waiting room"],
      summary: "Your place in the event's waiting room; ask again after pollAfterSeconds",
      params: httpEventIdParamsSchema,
      response: { 200: httpQueueResponseSchema, 401: httpErrorBodySchema, 404: httpErrorBodySchema, 429: httpErrorBodySchema },
    },
  }, async (request) => {
    const caller = signedInCaller(request);
    return { queue: await room.poll(requireWellFormedId(request.params.eventId, "event"), caller.user.id) };
  });

  // Not in the contract (v1.1 has no way out of the line): an extension, see the gateway README.
  app.delete("/events/:eventId/queue", {
    schema: {
      tags: ["waiting room"],
      summary: "Leave the event's waiting room: give up your place (or your admission) so the next buyer moves up",
      params: httpEventIdParamsSchema,
      response: { 204: z.null().describe("left"), 401: httpErrorBodySchema, 404: httpErrorBodySchema },
    },
  }, async (request, reply) => {
    const caller = signedInCaller(request);
    await room.leave(requireWellFormedId(request.params.eventId, "event"), caller.user.id);
    return reply.status(204).send(null);
  });

  app.get("/events/:eventId/queue/stats", {
    schema: {
      tags: ["waiting room"],
      summary: "The room live (the event's organiser): waiting, admitted, admissions per minute, pause and cap",
      params: httpEventIdParamsSchema,
      response: { 200: httpQueueStatsResponseSchema, 401: httpErrorBodySchema, 403: httpErrorBodySchema, 404: httpErrorBodySchema },
    },
  }, async (request) => {
    const caller = signedInCaller(request);
    return { stats: await room.stats(requireWellFormedId(request.params.eventId, "event"), caller.user.id) };
  });

  app.patch("/events/:eventId/queue", {
    schema: {
      tags: ["waiting room"],
      summary: "Pause the room or cap how many buyers are admitted at once (the event's organiser)",
      params: httpEventIdParamsSchema,
      body: httpQueuePatchBodySchema,
      response: { 200: httpQueueStatsResponseSchema, 400: httpErrorBodySchema, 401: httpErrorBodySchema, 403: httpErrorBodySchema, 404: httpErrorBodySchema },
    },
  }, async (request) => {
    const caller = signedInCaller(request);
    return { stats: await room.configure(requireWellFormedId(request.params.eventId, "event"), caller.user.id, request.body) };
  });
}
