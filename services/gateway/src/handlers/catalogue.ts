// The catalogue: event list and event page (cached per instance, ~1 s, coalesced), seat map,
// and event creation for organisers.
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import type { CatalogueCache } from "../catalogue-cache.ts";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import {
  httpCreateEventBodySchema,
  httpEventIdParamsSchema,
  httpEventListQuerySchema,
  httpEventListResponseSchema,
  httpEventResponseSchema,
  httpErrorBodySchema,
  httpSeatsQuerySchema,
  httpSeatsResponseSchema,
} from "@boxoffice/contracts";
import type { GatewayContext } from "../app.ts";
import { GatewayError } from "../errors.ts";
import { requireWellFormedId } from "../ids.ts";
import { authenticatedCaller } from "../session.ts";

const gzipAsync = promisify(gzip);
/** Seat lists smaller than this go as they are: gzip would not pay for its own time. */
const GZIP_FROM_BYTES = 2048;

export function registerCatalogueRoutes(parent: FastifyInstance, context: GatewayContext): void {
  const app = parent.withTypeProvider<ZodTypeProvider>();
  const { backend, cache } = context;

  app.get("/events", {
    schema: {
      tags: ["catalogue"],
      summary: "Events on sale, a page at a time (cursor, no totals)",
      querystring: httpEventListQuerySchema,
      response: { 200: httpEventListResponseSchema, 400: httpErrorBodySchema },
    },
  }, async (request, reply) => {
    const { limit, cursor } = request.query;
    const bytes = await cache.get(`events:${limit}:${cursor ?? ""}`, () => backend.listEvents({ limit, cursor }));
    // Cached bytes are already JSON: a Buffer skips the serialiser (hence the cast).
    return reply.type("application/json").send(bytes as never);
  });

  app.get("/events/:eventId", {
    schema: {
      tags: ["catalogue"],
      summary: "One event with its sections and availability",
      params: httpEventIdParamsSchema,
      response: { 200: httpEventResponseSchema, 404: httpErrorBodySchema },
    },
  }, async (request, reply) => {
    const eventId = requireWellFormedId(request.params.eventId, "event");
    const bytes = await cache.get(`event:${eventId}`, async () => ({ event: await backend.getEvent(eventId) }));
    return reply.type("application/json").send(bytes as never);
  });

  app.post("/events", {
    schema: {
      tags: ["catalogue"],
      summary: "Create an event (organisers); it goes on sale at once",
      body: httpCreateEventBodySchema,
      response: { 201: httpEventResponseSchema, 400: httpErrorBodySchema, 401: httpErrorBodySchema, 403: httpErrorBodySchema },
    },
  }, async (request, reply) => {
    const caller = await authenticatedCaller(request, backend, context.config.SESSION_TTL_SECONDS);
    if (caller.user.role !== "organizer") throw new GatewayError("FORBIDDEN", "only organisers create events");
    const event = await backend.createEvent(request.body, { token: caller.token });
    cache.invalidate("events:");
    return reply.status(201).send({ event });
  });

  app.get("/events/:eventId/seats", {
    schema: {
      tags: ["catalogue"],
      summary: "Every seat of an event with its status (available, held, sold); ?section=<sectionId> for one section's",
      params: httpEventIdParamsSchema,
      querystring: httpSeatsQuerySchema,
      response: { 200: httpSeatsResponseSchema, 400: httpErrorBodySchema, 404: httpErrorBodySchema },
    },
  }, async (request, reply) => {
    const eventId = requireWellFormedId(request.params.eventId, "event");
    const section = request.query.section;
    if (section !== undefined && !/^[0-9]{1,19}$/.test(section)) throw new GatewayError("VALIDATION_FAILED", "section must be a section id of this event", { details: { fields: [{ path: "query.section", message: "not a section id" }] } });
    const seats = await backend.getSeats(eventId, section === undefined ? undefined : { sectionId: section });
    // A stadium section is ~110 bytes a seat in JSON and repeats itself: gzip makes it ~15 times
    // smaller (the venue plan's byte budget counts on it). Bytes skip the serialiser (hence the cast).
    const json = Buffer.from(JSON.stringify({ seats }));
    reply.header("vary", "accept-encoding").type("application/json");
    if (json.length < GZIP_FROM_BYTES || !/\bgzip\b/.test(String(request.headers["accept-encoding"] ?? ""))) return reply.send(json as never);
    return reply.header("content-encoding", "gzip").send((await gzipAsync(json, { level: 6 })) as never);
  });
}

const EVENT_PAGE_ROUTE = "/api/events/:eventId";

/**
 * An onRequest hook, registered before every other: a GET of an event page whose bytes are cached
 * and fresh is answered from them at once. Only well-formed ids are ever cached, so a hit needs no
 * validation; anything else (a miss, another route) goes the ordinary way.
 */
export function cachedPageFastPath(cache: CatalogueCache): (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void {
  return (request, reply, done) => {
    if (request.method === "GET" && request.routeOptions.url === EVENT_PAGE_ROUTE) {
      const bytes = cache.peek(`event:${(request.params as { eventId: string }).eventId}`);
      if (bytes) {
        // Answering from an onRequest hook skips the remaining hooks and the handler.
        reply.type("application/json").send(bytes);
        return;
      }
    }
    done();
  };
}
