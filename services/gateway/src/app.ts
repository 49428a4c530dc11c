// Builds the gateway: a fastify app with sessions, CSRF and error mapping, the HTTP API of
// shared/reference/http-api.md, live sockets, health, metrics and /docs. It never listens by
// itself until start() is called; tests use app.inject().
import type { IncomingMessage } from "node:http";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import fastifyWebsocket from "@fastify/websocket";
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import { createProcessedEventLog, tracingOn, type ChannelLayer, type Firehose, type ProcessedEventLog } from "@boxoffice/bus";
import { eventUpdatedV1, inventoryAvailabilityChangedV1 } from "@boxoffice/contracts";
import { redisTlsOf, serviceTrust, withRedisCredentials } from "@boxoffice/runtime";
import { createAdmissionKeys } from "@boxoffice/identity";
import { randomBytes } from "node:crypto";
import { createBusBackend, type BusBackend } from "./bus-backend.ts";
import type { GatewayBackend } from "./backend.ts";
import { createCatalogueCache, type CatalogueCache } from "./catalogue-cache.ts";
import type { GatewayConfig } from "./config.ts";
import { clientErrorResponse, forbiddenCharacterPaths, GatewayError, toHttpError } from "./errors.ts";
import { registerAccountRoutes } from "./handlers/accounts.ts";
import { registerBuyingRoutes } from "./handlers/buying.ts";
import { cachedEventPageAnswer, registerCatalogueRoutes } from "./handlers/catalogue.ts";
import { registerLiveRoute } from "./handlers/live.ts";
import { registerOperationsGuard, registerOperationsRoutes } from "./handlers/operations.ts";
import { registerQueueRoutes } from "./handlers/queue.ts";
import { registerOpsConsoleRoutes } from "./handlers/ops-console.ts";
import { createOpsConsole, type OpsConsole } from "./ops-console.ts";
import { createAdmissionGate, createAdmissionRate, type AdmissionRate } from "./domain/admission-rate.ts";
import { createWaitingRoom, type WaitingRoom } from "./domain/waiting-room.ts";
import { createEdgeShedding } from "./edge-shedding.ts";
import { createGatewayServer, type HttpServerOptions } from "./http-server.ts";
import { traceHttpRequests } from "./http-tracing.ts";
import { createMemoryRoomStore } from "./store/memory-room-store.ts";
import { createRedisRoomStore } from "./store/redis-room-store.ts";
import type { RoomStore } from "./store/room-store.ts";
import { createLiveHub, type LiveHub } from "./live-hub.ts";
import { createGatewayMetrics, registerAdmissionMetrics, registerOpsGauges, registerServerCounters, registerSheddingGauges, type GatewayMetrics } from "./metrics.ts";
import { cachedRevocations, registerSessions } from "./session.ts";
import { createSignInLimiter, type SignInLimiter } from "./sign-in-limiter.ts";
import { registerWebUi } from "./web-ui.ts";

export interface GatewayDeps {
  /** The channel layer: RPC to the services and bus groups for live sockets. */
  readonly layer: ChannelLayer;
  /** Firehose for early cache invalidation (broadcast subscriptions). */
  readonly firehose: Pick<Firehose, "subscribe">;
  /** Replaces the services over the bus (tests of the HTTP layer alone). */
  readonly backend?: GatewayBackend;
  readonly metrics?: GatewayMetrics;
  /** The process logger (pino); fastify logs through it. */
  readonly logger?: FastifyBaseLogger;
  /** Replaces the waiting rooms' store chosen by ROOM_URL (tests). */
  readonly roomStore?: RoomStore;
  /** The clock of the waiting room (tests of admission expiry). */
  readonly now?: () => number;
  /** Replaces the room's admission gate (the event loop's lag; tests). */
  readonly admitting?: () => boolean;
  /** How often this gateway reports to the operator console (default 2000 ms; tests). */
  readonly opsReportIntervalMs?: number;
}

export interface GatewayContext {
  readonly config: GatewayConfig;
  readonly backend: GatewayBackend;
  readonly cache: CatalogueCache;
  readonly metrics: GatewayMetrics;
  readonly live: LiveHub;
  readonly signInLimiter: SignInLimiter;
  /** Signed-out session ids (see session.ts). */
  readonly revokedSessions?: ProcessedEventLog;
  readonly room: WaitingRoom;
  readonly admissionRate: AdmissionRate;
  /** Queue joins per client address. */
  readonly joinLimiter: SignInLimiter;
  /** Sign-ups per client address per hour (absent: no limit; see SIGN_UPS_PER_ADDRESS_PER_HOUR). */
  readonly signUpLimiter?: SignInLimiter;
  /** The operator console: reports of every process, firehose groups, rooms. */
  readonly ops: OpsConsole;
}

export interface Gateway {
  readonly app: FastifyInstance;
  readonly context: GatewayContext;
  /** Listens on config.HOST:config.PORT; resolves with the URL. */
  start(): Promise<string>;
  stop(): Promise<void>;
}

function trustHops(hops: number): (address: string, hop: number) => boolean {
  return (_address, hop) => hop < hops;
}

/** Signed-out session ids, in the bus's (first) Redis so every gateway sees them, or in memory for one process. */
function createRevokedSessions(config: GatewayConfig): ProcessedEventLog {
  const url = config.BUS_URL.startsWith("redis") ? withRedisCredentials(config.BUS_URL.split(",")[0], config) : "memory://";
  return createProcessedEventLog(url, { ttlSeconds: config.SESSION_TTL_SECONDS, prefix: `${config.BUS_PREFIX}:signed-out`, tls: redisTlsOf(config) });
}

const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Streams and event types that change what the catalogue pages show. */
const INVALIDATING_STREAMS: Array<[stream: string, types: string[]]> = [
  [eventUpdatedV1.stream, [eventUpdatedV1.type]],
  [inventoryAvailabilityChangedV1.stream, [inventoryAvailabilityChangedV1.type]],
];

/** The most of an over-limit body read (and thrown away) so the client sees the 413 instead of a broken pipe. */
const OVERSIZED_BODY_DRAIN_BYTES = 8 * 1024 * 1024;
const OVERSIZED_BODY_DRAIN_MS = 2000;

/**
 * Reads and discards what the client is still sending (bounded in bytes and time): a server that
 * answers 413 and closes while the client writes leaves it with EPIPE instead of the answer.
 */
function drainRequest(raw: IncomingMessage): Promise<void> {
  if (raw.readableEnded || raw.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const done = () => {
      clearTimeout(timer);
      raw.off("data", onData);
      raw.off("end", done);
      raw.off("error", done);
      raw.off("close", done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > OVERSIZED_BODY_DRAIN_BYTES) done();
    };
    const timer = setTimeout(done, OVERSIZED_BODY_DRAIN_MS);
    timer.unref();
    raw.on("data", onData);
    raw.on("end", done);
    raw.on("error", done);
    raw.on("close", done);
    raw.resume();
  });
}

export async function buildGateway(config: GatewayConfig, deps: GatewayDeps): Promise<Gateway> {
  // One way to answer any error, for fastify's error handler and for its router's own errors.
  const sendError = async (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const mapped = toHttpError(error, { busyRetryAfterSeconds: config.BUSY_RETRY_AFTER_SECONDS });
    if (mapped.internal) request.log.error({ err: error, code: mapped.body.error.code }, "request failed");
    if (mapped.retryAfterSeconds !== undefined) reply.header("retry-after", String(mapped.retryAfterSeconds));
    if (mapped.status === 413) {
      await drainRequest(request.raw);
      reply.header("connection", "close");
    }
    return reply.status(mapped.status).type("application/json").send(mapped.body);
  };
  const metrics = deps.metrics ?? createGatewayMetrics();
  const cache = createCatalogueCache({
    ttlMs: config.CATALOGUE_CACHE_TTL_MS,
    staleAfterChangeMs: config.CATALOGUE_STALE_AFTER_CHANGE_MS,
    onHit: () => metrics.cacheHit(),
    onMiss: () => metrics.cacheLookups.inc({ result: "miss" }),
  });
  // This gateway's own counters for its ops report (the onResponse hook below counts fastify's answers).
  const httpCounts = { handled: 0, errors: 0 };
  // From close() on, fastify answers (it sends "connection: close" while draining): no early answers,
  // and every request is a 503 UNAVAILABLE with Retry-After (the first onRequest hook below).
  let closing = false;
  const earlyPage = cachedEventPageAnswer(cache, (status) => {
    metrics.earlyPageAnswered(status);
    httpCounts.handled += 1;
  });
  const app = Fastify({
    // A cached event page is answered by the server itself, before fastify (see http-server.ts).
    // Fastify fills in its server options, defaults included, before it calls the factory.
    serverFactory: (handler, options) => createGatewayServer(handler, options as unknown as HttpServerOptions, (request, response) => !closing && earlyPage(request, response)),
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: { level: config.LOG_LEVEL } }),
    // Per-request log lines cost more than a cached page itself; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.BODY_LIMIT_BYTES,
    keepAliveTimeout: config.KEEP_ALIVE_TIMEOUT_SECONDS * 1000,
    // A hop count trusts that many proxies nearest to us (what proxy-addr does with a number).
    trustProxy: typeof config.TRUST_PROXY === "number" ? trustHops(config.TRUST_PROXY) : config.TRUST_PROXY,
    // A load balancer's request id is kept; otherwise fastify's cheap counter.
    requestIdHeader: "x-request-id",
    routerOptions: { ignoreTrailingSlash: true },
    // Fastify's own answer to a request that arrives while it drains (a keep-alive connection's next
    // request) is a 503 without Retry-After and outside the API's error shape; the hook below answers it.
    return503OnClosing: false,
    // Errors of fastify's router (bad percent-encoding, an over-long path parameter) in our shape.
    frameworkErrors: (error, request, reply) => sendError(error, request, reply),
    // A request Node's parser could not read (no request object exists): raw HTTP in our shape.
    clientErrorHandler: (error, socket) => {
      if ((error as { code?: string }).code === "ECONNRESET" || socket.destroyed) return;
      if (socket.writable) socket.write(clientErrorResponse(error as { code?: string }));
      socket.destroy(error);
    },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // Draining (close() was called): finish what is under way, refuse new work the contract's way.
  app.addHook("onRequest", (_request, _reply, done) => done(closing ? new GatewayError("UNAVAILABLE", "this server is shutting down; retry in a moment") : undefined));

  const busBackend: BusBackend | undefined = deps.backend ? undefined : createBusBackend({ layer: deps.layer, deadlineMs: config.RPC_DEADLINE_MS, metrics, identity: serviceTrust(config, "gateway").identity });
  const backend = deps.backend ?? (busBackend as BusBackend);
  const live = createLiveHub({ layer: deps.layer, logger: app.log });
  const roomStore = deps.roomStore ?? createRoomStore(config);
  const admissionWindowJudged = registerAdmissionMetrics(metrics.registry, () => admissionRate.current());
  const admissionRate: AdmissionRate = createAdmissionRate({
    initial: config.ADMISSION_RATE_INITIAL,
    min: config.ADMISSION_RATE_MIN,
    max: config.ADMISSION_RATE_MAX,
    latencyTargetMs: config.CHECKOUT_LATENCY_TARGET_MS,
    loopLagTargetMs: config.ADMISSION_LOOP_LAG_TARGET_MS,
    maxUtilization: config.ADMISSION_MAX_LOOP_UTILIZATION,
    // The edge shedding's per-second sample of this process's event loop (created below).
    load: () => shedding.loopDelay(),
    now: deps.now,
    onWindow: (window) => {
      admissionWindowJudged(window);
      if (window.rate !== window.previous) app.log.debug(window, "waiting room: admission rate changed");
    },
  });
  const room = createWaitingRoom({
    store: roomStore,
    backend,
    admissions: createAdmissionKeys(config.ADMISSION_KEYS ?? [randomBytes(32).toString("hex")]),
    rate: admissionRate,
    admissionTtlSeconds: config.ADMISSION_TTL_SECONDS,
    maxConcurrent: config.ADMISSION_MAX_CONCURRENT,
    admitting: deps.admitting ?? createAdmissionGate({ lagMs: () => shedding.loopDelay().lagMs, lagTargetMs: config.ADMISSION_LOOP_LAG_TARGET_MS }),
    earlyPollAllowance: config.QUEUE_EARLY_POLL_ALLOWANCE,
    pollRateFloor: config.QUEUE_POLL_RATE_FLOOR,
    now: deps.now,
  });
  const ops = createOpsConsole({ config, layer: deps.layer, room, sample: () => ({ ...httpCounts, inFlight: inFlightRequests() }), reportIntervalMs: deps.opsReportIntervalMs });
  registerOpsGauges(metrics.registry, () => ops.overview());
  const context: GatewayContext = {
    config,
    backend,
    cache,
    metrics,
    live,
    signInLimiter: createSignInLimiter({ maxFailures: config.SIGN_IN_MAX_FAILURES, windowMs: config.SIGN_IN_WINDOW_SECONDS * 1000 }),
    revokedSessions: cachedRevocations(createRevokedSessions(config), config.SESSION_REVOCATION_CACHE_MS, deps.now),
    room,
    admissionRate,
    joinLimiter: createSignInLimiter({ maxFailures: config.QUEUE_JOINS_PER_ADDRESS_PER_MINUTE, windowMs: 60_000 }),
    signUpLimiter: signUpLimiter(config),
    ops,
  };

  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));

  // Every string that could reach a store is refused first if it holds a NUL or a lone surrogate
  // (Postgres rejects NUL in text with a 500 otherwise): params, query and body, on every route.
  app.addHook("preValidation", (request, _reply, done) => {
    const fields = [
      ...forbiddenCharacterPaths(request.params, "params"),
      ...forbiddenCharacterPaths(request.query, "querystring"),
      ...forbiddenCharacterPaths(request.body, "body"),
    ];
    if (fields.length === 0) return done();
    done(
      new GatewayError("VALIDATION_FAILED", "the request holds a character that is not allowed (NUL or a lone UTF-16 surrogate)", {
        details: { fields: fields.map((path) => ({ path, message: "NUL and lone surrogates are not allowed" })) },
      }),
    );
  });

  app.setNotFoundHandler((request, reply) => {
    return reply.status(404).send({ error: { code: "NOT_FOUND", message: `no route ${request.method} ${request.url.split("?")[0]}` } });
  });

  app.addHook("preClose", (done) => {
    closing = true;
    done();
  });

  // Same-origin check for browser writes: an Origin from elsewhere is refused; no Origin at all
  // is a non-browser client (curl, k6) and allowed, as the HTTP reference says.
  // Callback-style hooks: on the hot path (a cached page) they cost no promise per request.
  app.addHook("onRequest", (request, _reply, done) => {
    const origin = request.headers.origin;
    if (origin === undefined || !STATE_CHANGING.has(request.method)) return done();
    let sameOrigin: boolean;
    try {
      // Both through URL so default ports (":80", ":443") compare equal.
      sameOrigin = new URL(origin).origin === new URL(`${request.protocol}://${request.host}`).origin;
    } catch {
      sameOrigin = false;
    }
    done(sameOrigin ? undefined : new GatewayError("CSRF_REJECTED"));
  });

  if (tracingOn()) traceHttpRequests(app);

  // Edge shedding: a request this gateway cannot finish soon is answered 503 BUSY with Retry-After
  // at once, before any work, instead of queueing until the client gives up.
  const shedding = createEdgeShedding({
    limits: { checkout: config.INFLIGHT_MAX_CHECKOUT, queue: config.INFLIGHT_MAX_QUEUE, other: config.INFLIGHT_MAX_OTHER },
    maxEventLoopDelayMs: config.EVENT_LOOP_MAX_DELAY_MS,
    retryAfterSeconds: { checkout: config.CHECKOUT_BUSY_RETRY_AFTER_SECONDS },
    // The header is the balancer's only when a balancer is trusted to set it (and overwrite a client's).
    requestStart: config.TRUST_PROXY === false ? undefined : {
      maxQueueMs: config.REQUEST_QUEUE_MAX_MS,
      onQueued: (routeClass, queuedMs) => metrics.requestQueue.observe({ class: routeClass ?? "none" }, queuedMs / 1000),
    },
    // Checkout this gateway had to shed is checkout overloaded: admit fewer.
    onShed: (routeClass) => {
      if (routeClass === "checkout") admissionRate.observe(0, true);
    },
  });
  app.addHook("onRequest", shedding.onRequest);
  registerSheddingGauges(metrics.registry, shedding);
  registerServerCounters(metrics.registry, app.server);
  const inFlightRequests = () => shedding.inFlight("checkout") + shedding.inFlight("queue") + shedding.inFlight("other");

  app.addHook("onResponse", (request, reply, done) => {
    const labels = { method: request.method, route: request.routeOptions.url ?? "unmatched", status: String(reply.statusCode) };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
    httpCounts.handled += 1;
    if (reply.statusCode >= 500) httpCounts.errors += 1;
    done();
  });

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: "boxoffice gateway", description: "The HTTP API of boxoffice (shared/reference/http-api.md).", version: "1.0.0" },
    },
    transform: jsonSchemaTransform,
  });
  registerOperationsGuard(app, config);
  if (config.SERVE_DOCS) await app.register(fastifySwaggerUi, { routePrefix: "/docs" });
  await registerSessions(app, { keys: config.SESSION_KEYS, ttlSeconds: config.SESSION_TTL_SECONDS, revoked: context.revokedSessions });
  await app.register(fastifyWebsocket, { options: { maxPayload: 4096 } });

  await app.register(async (api) => {
    registerAccountRoutes(api, context);
    registerCatalogueRoutes(api, context);
    registerBuyingRoutes(api, context);
    registerQueueRoutes(api, context);
    registerLiveRoute(api, context);
    registerOpsConsoleRoutes(api, context);
  }, { prefix: "/api" });
  registerOperationsRoutes(app, context);
  if (config.SERVE_WEB) await registerWebUi(app, app.log);

  const subscriptions: Array<{ close(): Promise<void> | void }> = [];
  for (const [stream, types] of INVALIDATING_STREAMS) {
    subscriptions.push(
      deps.firehose.subscribe(stream, { from: "latest" }, async (event) => {
        if (!types.includes(event.type)) return;
        if (event.type === inventoryAvailabilityChangedV1.type) {
          await room.availabilityChanged(event.key, (event.data as { available: number }).available);
        }
        // Both event types are keyed by event id. Availability may lag a moment; the event itself may not.
        if (event.type === inventoryAvailabilityChangedV1.type) {
          cache.changed(`event:${event.key}`);
          cache.changed("events:");
        } else {
          cache.invalidate(`event:${event.key}`);
          cache.invalidate("events:");
        }
      }),
    );
  }

  await ops.start();

  return {
    app,
    context,
    async start() {
      return app.listen({ port: config.PORT, host: config.HOST, backlog: config.LISTEN_BACKLOG });
    },
    async stop() {
      await ops.stop();
      for (const subscription of subscriptions) await subscription.close();
      shedding.close();
      await live.close();
      await app.close();
      await busBackend?.close();
      await context.revokedSessions?.close();
      if (!deps.roomStore) await roomStore.close();
    },
  };
}

/** ROOM_URL, else the first Redis of BUS_URL (every gateway of a platform shares it), else memory. */
function createRoomStore(config: GatewayConfig): RoomStore {
  const url = config.ROOM_URL ?? config.BUS_URL.split(",")[0].trim();
  const expiry = { idleTtlMs: config.ROOM_IDLE_TTL_SECONDS * 1000, soldOutTtlMs: config.ROOM_SOLD_OUT_TTL_SECONDS * 1000 };
  if (url.startsWith("redis://") || url.startsWith("rediss://")) return createRedisRoomStore({ url, prefix: `${config.BUS_PREFIX}:`, expiry });
  return createMemoryRoomStore({ expiry });
}

/** Production limits sign-ups per address unless told otherwise; development does not (see config). */
function signUpLimiter(config: GatewayConfig): SignInLimiter | undefined {
  const perHour = config.SIGN_UPS_PER_ADDRESS_PER_HOUR ?? (config.NODE_ENV === "production" ? 300 : undefined);
  return perHour === undefined ? undefined : createSignInLimiter({ maxFailures: perHour, windowMs: 3_600_000 });
}
