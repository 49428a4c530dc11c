// GET /api/events/:eventId/live: a WebSocket that forwards availability changes of one event.
// The server closes each socket after a lifetime with jitter so that, after a deploy or a scale
// out, connections spread over the instances again; the client reconnects with backoff. Sockets are
// for events that exist, and capped per client address and in total on each instance (checked
// before the upgrade, so a refused client gets a plain HTTP error).
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { httpEventIdParamsSchema, httpLiveQuerySchema } from "@boxoffice/contracts";
import type { GatewayContext } from "../app.ts";
import { GatewayError } from "../errors.ts";
import { requireWellFormedId } from "../ids.ts";
import { authenticatedCaller } from "../session.ts";

/** Close code the client treats as "reconnect now, nothing is wrong". */
export const LIVE_CLOSE_REBALANCE = 4000;
const CLOSE_GRACE_MS = 2000;

export function registerLiveRoute(parent: FastifyInstance, context: GatewayContext): void {
  const app = parent.withTypeProvider<ZodTypeProvider>();
  const { live, metrics, config, backend, cache } = context;
  let open = 0;
  const perAddress = new Map<string, number>();
  const release = (address: string) => {
    open--;
    const left = (perAddress.get(address) ?? 1) - 1;
    if (left > 0) perAddress.set(address, left);
    else perAddress.delete(address);
  };

  app.route({
    method: "GET",
    url: "/events/:eventId/live",
    async preValidation(request) {
      // A plain GET is answered 426 by the handler; the caps and the event check are for sockets.
      if (request.headers.upgrade?.toLowerCase() !== "websocket") return;
      const { eventId } = request.params as { eventId: string };
      if (open >= config.LIVE_SOCKETS_MAX) throw new GatewayError("BUSY", "too many live connections on this server; retry in a moment");
      if ((perAddress.get(request.ip) ?? 0) >= config.LIVE_SOCKETS_PER_ADDRESS) {
        throw new GatewayError("RATE_LIMITED", "too many live connections from your address", { retryAfterSeconds: 10 });
      }
      // Only events that exist (404 otherwise), through the page cache the event page fills anyway.
      const id = requireWellFormedId(eventId, "event");
      await cache.get(`event:${id}`, async () => ({ event: await backend.getEvent(id) }));
      // ?sales=1 adds each confirmed order ({type:"sale"}): the event's organiser only.
      if ((request.query as { sales?: string }).sales === "1") {
        const caller = await authenticatedCaller(request, backend, config.SESSION_TTL_SECONDS);
        const event = await backend.getEvent(id);
        if (event.organizerId !== caller.user.id) throw new GatewayError("FORBIDDEN", "only the event's organiser sees its sales live");
      }
    },
    schema: {
      tags: ["live"],
      summary: "WebSocket of availability changes: {type:'availability', eventId, available, sections}; ?sales=1 (the event's organiser) adds {type:'sale', …} per confirmed order",
      params: httpEventIdParamsSchema,
      querystring: httpLiveQuerySchema,
    },
    // A plain GET (no Upgrade) gets an answer in the API's shape, not a bare 404.
    handler: async () => {
      throw new GatewayError("UPGRADE_REQUIRED", "this address speaks WebSocket only: connect with an Upgrade: websocket request");
    },
    wsHandler: (socket, request) => {
      const { eventId } = request.params;
      const withSales = request.query.sales === "1";
      const address = request.ip;
      open++;
      perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
      metrics.openSockets.inc();
      let stop: (() => Promise<void>) | undefined;
      let closed = false;
      const lifetime = config.LIVE_SOCKET_LIFETIME_MS + Math.floor(Math.random() * (config.LIVE_SOCKET_JITTER_MS + 1));
      let forceTimer: NodeJS.Timeout | undefined;
      const timer = setTimeout(() => {
        socket.close(LIVE_CLOSE_REBALANCE, "rebalance");
        // A peer that never answers the close handshake does not keep the socket (and the gauge) alive.
        forceTimer = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS);
        forceTimer.unref();
      }, lifetime);
      timer.unref();
      socket.on("close", () => {
        closed = true;
        clearTimeout(timer);
        clearTimeout(forceTimer);
        metrics.openSockets.dec();
        release(address);
        stop?.().catch((error: unknown) => request.log.warn({ err: error, eventId }, "could not stop watching event availability"));
      });
      // Messages from the client are not part of the protocol; ignore them.
      socket.on("message", () => {});
      live
        .watch(eventId, (message) => {
          if (message.type === "sale" && !withSales) return;
          if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
        })
        .then((unwatch) => {
          stop = unwatch;
          if (closed) unwatch().catch((error: unknown) => request.log.warn({ err: error, eventId }, "could not stop watching event availability"));
          else if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ type: "ready", eventId }));
        })
        .catch((error: unknown) => {
          request.log.warn({ err: error, eventId }, "could not watch event availability");
          socket.close(1011, "live updates unavailable");
        });
    },
  });
}
