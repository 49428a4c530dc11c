// GET /api/events/:eventId/live: a WebSocket that forwards availability changes of one event.
// The server closes each socket after a lifetime with jitter so that, after a deploy or a scale
// out, connections spread over the instances again; the client reconnects with backoff.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { httpEventIdParamsSchema } from "@boxoffice/contracts";
import type { GatewayContext } from "../app.ts";
import { GatewayError } from "../errors.ts";

/** Close code the client treats as "reconnect now, nothing is wrong". */
export const LIVE_CLOSE_REBALANCE = 4000;
const CLOSE_GRACE_MS = 2000;

export function registerLiveRoute(parent: FastifyInstance, context: GatewayContext): void {
  const app = parent.withTypeProvider<ZodTypeProvider>();
  const { live, metrics, config } = context;

  app.route({
    method: "GET",
    url: "/events/:eventId/live",
    schema: { tags: ["live"], summary: "WebSocket of availability changes: {type:'availability', eventId, available, sections}", params: httpEventIdParamsSchema },
    // A plain GET (no Upgrade) gets an answer in the API's shape, not a bare 404.
    handler: async () => {
      throw new GatewayError("UPGRADE_REQUIRED", "this address speaks WebSocket only: connect with an Upgrade: websocket request");
    },
    wsHandler: (socket, request) => {
      const { eventId } = request.params;
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
        stop?.().catch((error: unknown) => request.log.warn({ err: error, eventId }, "could not stop watching event availability"));
      });
      // Messages from the client are not part of the protocol; ignore them.
      socket.on("message", () => {});
      live
        .watch(eventId, (message) => {
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
