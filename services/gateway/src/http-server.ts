// The gateway's HTTP server: Node's, configured as fastify configures its own (keep-alive, request
// and connection timeouts), with one difference. Each request is first offered to `early`, which
// may answer it from bytes already at hand (a cached event page); only what it declines reaches
// fastify. An early answer costs no request and reply objects, no logger child, no hooks and no
// session decryption: what a bare HTTP server would spend on the same bytes.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

/** Answers the request and returns true, or returns false having touched nothing. */
export type EarlyAnswer = (request: IncomingMessage, response: ServerResponse) => boolean;

/** The options fastify hands its server factory (its own, with defaults filled in). */
export interface HttpServerOptions {
  readonly http?: object;
  readonly keepAliveTimeout: number;
  readonly requestTimeout: number;
  readonly connectionTimeout: number;
  readonly maxRequestsPerSocket?: number;
}

export function createGatewayServer(
  fastifyHandler: (request: IncomingMessage, response: ServerResponse) => void,
  options: HttpServerOptions,
  early: EarlyAnswer,
): Server {
  const server = createServer(options.http ?? {}, (request, response) => {
    if (!early(request, response)) fastifyHandler(request, response);
  });
  // What fastify's own factory sets (fastify/lib/server.js), so the factory changes nothing else.
  server.keepAliveTimeout = options.keepAliveTimeout;
  server.requestTimeout = options.requestTimeout;
  server.setTimeout(options.connectionTimeout);
  if (options.maxRequestsPerSocket !== undefined && options.maxRequestsPerSocket > 0) server.maxRequestsPerSocket = options.maxRequestsPerSocket;
  return server;
}
