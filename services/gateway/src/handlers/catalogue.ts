// The catalogue: event list and event page (cached per instance, ~1 s, coalesced), seat map,
// and event creation for organisers.
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { CachedPage, CatalogueCache } from "../catalogue-cache.ts";
import type { EarlyAnswer } from "../http-server.ts";
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
    const page = await cache.get(`events:${limit}:${cursor ?? ""}`, () => backend.listEvents({ limit, cursor }));
    return sendPage(request, reply, page);
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
    const page = await cache.get(`event:${eventId}`, async () => ({ event: await backend.getEvent(eventId) }));
    return sendPage(request, reply, page);
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

/** A cached page through fastify: 304 when the client holds these bytes already, else the bytes. */
function sendPage(request: FastifyRequest, reply: FastifyReply, page: CachedPage): FastifyReply {
  reply.header("etag", page.etag);
  if (holdsPage(request.headers["if-none-match"], page.etag)) return reply.status(304).send();
  // Cached bytes are already JSON: a Buffer skips the serialiser (hence the cast).
  return reply.type("application/json").send(page.body as never);
}

/** If-None-Match names this entity tag (or `*`); weak tags compare as their strong form (RFC 9110 §13.1.2). */
export function holdsPage(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  if (ifNoneMatch === etag) return true;
  return ifNoneMatch.split(",").some((listed) => {
    const tag = listed.trim();
    return tag === "*" || (tag.startsWith("W/") ? tag.slice(2) : tag) === etag;
  });
}

const EVENT_PAGE_PREFIX = "/api/events/";

/**
 * The event page every buyer reads during an on-sale, answered by the HTTP server before fastify
 * (see http-server.ts) when its bytes are cached and fresh. The page is public and the same for
 * every caller, so nothing about the caller is needed: no session, no shedding, no validation.
 * Only pages of well-formed ids are ever cached, so only `/api/events/<cached id>` exactly (no
 * query, no trailing slash, no percent-encoding) can hit; every other request is declined and goes
 * the ordinary way, which serves the same bytes with the same headers.
 */
export function cachedEventPageAnswer(cache: CatalogueCache, answered: (status: 200 | 304) => void): EarlyAnswer {
  return (request, response) => {
    const url = request.url;
    if (request.method !== "GET" || url === undefined || !url.startsWith(EVENT_PAGE_PREFIX)) return false;
    const page = cache.peek(`event:${url.slice(EVENT_PAGE_PREFIX.length)}`);
    if (page === undefined) return false;
    if (holdsPage(request.headers["if-none-match"], page.etag)) {
      response.writeHead(304, { etag: page.etag });
      response.end();
      answered(304);
      return true;
    }
    response.writeHead(200, { "content-type": "application/json", "content-length": page.body.length, etag: page.etag });
    response.end(page.body);
    answered(200);
    return true;
  };
}
