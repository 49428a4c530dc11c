// The serving side: every instance of a service receives from the same "<service>.rpc" channel,
// so instances compete for requests (load balancing and discovery without a registry). An instance
// receives only while it has a free handler slot (bulkhead), leaving the rest to other instances.
import type { ChannelLayer, Message } from "../channel-layer/types.ts";
import { traceIdOf, type RpcContext, type RpcReplyWire } from "./context.ts";
import { requestChannelOf, type MethodDef } from "./define-method.ts";
import { InvalidRpcOptionError, RpcError, RpcErrorCodes, toRpcError, validationFailed } from "./errors.ts";
import type { ServiceIdentityVerifier } from "./service-identity.ts";
import { busTracer, contextWithTraceparent, recordFailure, SPAN_OPTIONS, traceparentOf, tracingOn } from "../tracing/spans.ts";
import { context as otelContext, trace } from "@opentelemetry/api";

/** Pino-compatible: `(fields, message)`. */
export interface RpcLogger {
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

export interface RpcServerOptions {
  layer: ChannelLayer;
  /** The service whose "<service>.rpc" channel this server receives on. */
  service: string;
  /** Handlers running at once in this instance; it takes no request while all are busy. Default 32. */
  concurrency?: number;
  /**
   * Receives waiting on the channel at once (never more than free slots), so that one round trip
   * to the bus does not cap the instance's throughput: the layer takes up to one request per
   * waiting receive in one round trip. Default 32, the default concurrency (4 capped a loaded
   * instance at ~4 requests per round trip). Used only when the layer lacks the "receiveMany"
   * extension; with it, two loops each take a batch of up to half the free slots per call.
   */
  receivers?: number;
  /** Default: console. */
  logger?: RpcLogger;
  /**
   * Checks who calls: every request must carry a valid proof of a known service's identity
   * (UNAUTHENTICATED otherwise), and each method's `access` is enforced (FORBIDDEN). Without it the
   * caller's name is taken as claimed and access is not checked (one process, in-memory bus).
   */
  identities?: ServiceIdentityVerifier;
  /** The role of the user whose token a request carries; needed for methods whose access names roles. */
  userRole?: (token: string | undefined) => Promise<string | undefined>;
}

export const DEFAULT_RPC_SERVER_OPTIONS = { concurrency: 32, receivers: 32 };

export type RpcHandler<Req, ResIn> = (input: Req, ctx: RpcContext) => Promise<ResIn> | ResIn;

export interface RpcServer {
  /** Serves `method` (several versions of one verb may be served side by side). Returns the server. */
  handle<Req, Res, ReqIn, ResIn>(method: MethodDef<Req, Res, ReqIn, ResIn>, handler: RpcHandler<Req, ResIn>): RpcServer;
  /** Starts receiving requests. */
  start(): void;
  /** Takes no new requests and resolves once the ones already taken are answered. */
  stop(): Promise<void>;
  /** Handlers running now. */
  readonly inFlight: number;
  /** Replies this server could not deliver (the caller's inbox stayed full until the deadline, or was gone); each is logged. */
  readonly repliesDropped: number;
  /** Live counters since the server was created (the operator console reads them; see ops/ops-reports.ts). */
  readonly stats: Readonly<RpcServerStats>;
}

/** Upper bounds (ms) of the latency histogram buckets; a last bucket counts everything slower. */
export const RPC_LATENCY_BUCKETS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] as const;

export interface RpcMethodStats {
  calls: number;
  /** Calls answered with an error (validation, domain or internal). */
  errors: number;
  /** Cumulative counts per RPC_LATENCY_BUCKETS_MS bucket, plus one for slower calls. */
  latencyBuckets: number[];
}

export interface RpcServerStats {
  /** Requests answered (successfully or not). */
  handled: number;
  errors: number;
  methods: Record<string, RpcMethodStats>;
}

interface Registration {
  method: MethodDef;
  handler: RpcHandler<unknown, unknown>;
}

const servedMethods = new WeakMap<RpcServer, Map<string, Registration>>();

/** Names of the methods `server` handles, sorted (contract tests compare them with the contracts). */
export function methodsServedBy(server: RpcServer): string[] {
  return [...(servedMethods.get(server)?.keys() ?? [])].sort();
}

const consoleLogger: RpcLogger = {
  warn: (fields, message) => console.warn(`[rpc] ${message ?? ""}`, fields),
  error: (fields, message) => console.error(`[rpc] ${message ?? ""}`, fields),
};

const MAX_LOOP_BACKOFF_MS = 2000;
/** Most requests one batch receive takes. */
const MAX_BATCH = 256;
/** Channel-layer error codes meaning "this message cannot travel" (InvalidMessageError, MessageTooLargeError). */
const UNSENDABLE = new Set(["INVALID_MESSAGE", "MESSAGE_TOO_LARGE"]);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function makeContext(request: Record<string, unknown>, method: string, deadline: number, verifiedCaller?: string): RpcContext {
  const traceparent = request.traceparent as string;
  let signal: AbortSignal | undefined;
  const ctx: RpcContext = {
    method,
    requestId: request.id as string,
    deadline,
    timeLeftMs: () => Math.max(0, deadline - Date.now()),
    traceparent,
    traceId: traceIdOf(traceparent) ?? "",
    caller: verifiedCaller ?? (typeof request.caller === "string" ? request.caller : "unknown"),
    // Made on first use: most handlers never look at it, and a timer per request is not free.
    get signal() {
      signal ??= AbortSignal.timeout(Math.max(0, deadline - Date.now()));
      return signal;
    },
  };
  if (typeof request.token === "string") ctx.token = request.token;
  return ctx;
}

export function createRpcServer(options: RpcServerOptions): RpcServer {
  const { layer, service } = options ?? ({} as RpcServerOptions);
  if (!layer || typeof layer.receive !== "function") throw new InvalidRpcOptionError("layer", "expected a ChannelLayer");
  if (typeof service !== "string" || !/^[a-z][a-z0-9-]*$/.test(service)) throw new InvalidRpcOptionError("service", `expected a service name like "inventory", got ${JSON.stringify(service)}`);
  const concurrency = options.concurrency ?? DEFAULT_RPC_SERVER_OPTIONS.concurrency;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new InvalidRpcOptionError("concurrency", "expected a positive integer");
  const receivers = options.receivers ?? DEFAULT_RPC_SERVER_OPTIONS.receivers;
  if (!Number.isInteger(receivers) || receivers < 1) throw new InvalidRpcOptionError("receivers", "expected a positive integer");
  const logger = options.logger ?? consoleLogger;
  const { identities, userRole } = options;
  const channel = requestChannelOf(service);
  const handlers = new Map<string, Registration>();
  const tasks = new Set<Promise<void>>();
  let running = false;
  let stopReceiving = new AbortController();
  let loopDone: Promise<void> | undefined;
  /** Receives under way: each holds a slot, so taken + waiting never exceeds concurrency. */
  let receiving = 0;
  const slotWaiters: Array<() => void> = [];
  const wakeOne = () => slotWaiters.shift()?.();
  const wakeAll = () => slotWaiters.splice(0).forEach((wake) => wake());

  let repliesDropped = 0;
  const stats: RpcServerStats = { handled: 0, errors: 0, methods: {} };

  /** Counted in memory only: an answered request costs a few increments, never a bus round trip. */
  function record(method: string, startedAt: number, ok: boolean): void {
    const ms = performance.now() - startedAt;
    const entry = (stats.methods[method] ??= { calls: 0, errors: 0, latencyBuckets: new Array<number>(RPC_LATENCY_BUCKETS_MS.length + 1).fill(0) });
    let bucket = RPC_LATENCY_BUCKETS_MS.findIndex((bound) => ms <= bound);
    if (bucket < 0) bucket = RPC_LATENCY_BUCKETS_MS.length;
    entry.latencyBuckets[bucket] += 1;
    entry.calls += 1;
    stats.handled += 1;
    if (!ok) {
      entry.errors += 1;
      stats.errors += 1;
    }
  }

  async function reply(replyTo: string, message: RpcReplyWire, method: unknown, deadline = Date.now()): Promise<void> {
    try {
      // A full reply inbox is a caller busy reading: the work is done, so wait for room until the
      // request's deadline rather than drop an answer the caller is waiting for.
      for (let attempt = 1; ; attempt++) {
        try {
          await layer.send(replyTo, message as unknown as Message);
          break;
        } catch (error) {
          const backoff = Math.min(200, 5 * 2 ** attempt);
          if ((error as { code?: unknown }).code !== "CHANNEL_FULL" || Date.now() + backoff >= deadline) throw error;
          await new Promise((r) => setTimeout(r, backoff));
        }
      }
    } catch (error) {
      if (message.ok && UNSENDABLE.has((error as { code?: unknown }).code as string)) {
        // The handler returned something the bus cannot carry: the caller still deserves an answer.
        logger.error({ err: error, method, requestId: message.id }, "RPC response could not be sent");
        await reply(replyTo, { id: message.id, ok: false, error: new RpcError(RpcErrorCodes.INTERNAL, "internal error").toWire() }, method);
        return;
      }
      // The caller is gone (closed, full or expired reply channel): nobody to tell. Counted and logged.
      repliesDropped++;
      logger.warn({ err: error, method, requestId: message.id, replyTo }, "RPC reply dropped");
    }
  }

  /** FORBIDDEN unless the method lets this service, or the user's role, call it. */
  async function checkAccess(method: MethodDef, caller: string, token: unknown): Promise<void> {
    const access = method.access;
    if (!access || access.services?.includes(caller)) return;
    if (access.roles?.length && userRole && typeof token === "string") {
      const role = await userRole(token);
      if (role !== undefined && access.roles.includes(role)) return;
    }
    const who = [access.services?.length ? `services ${access.services.join(", ")}` : "", access.roles?.length ? `users with role ${access.roles.join(" or ")}` : ""].filter(Boolean).join(" or ");
    throw new RpcError(RpcErrorCodes.FORBIDDEN, `${caller} may not call ${method.name} (only ${who || "nobody"})`, { details: { method: method.name, caller } });
  }

  async function serve(message: Message): Promise<void> {
    if (typeof message !== "object" || message === null || Array.isArray(message)) {
      logger.warn({ message }, "malformed RPC request dropped (not an object)");
      return;
    }
    const { id, replyTo, method, deadline } = message;
    if (typeof id !== "string" || typeof replyTo !== "string") {
      logger.warn({ id, replyTo }, "malformed RPC request dropped (no id or replyTo to answer)");
      return;
    }
    const fail = (error: RpcError) => reply(replyTo, { id, ok: false, error: error.toWire() }, method, typeof deadline === "number" ? deadline : undefined);
    const envelope: Array<{ path: string[]; message: string }> = [];
    if (typeof method !== "string") envelope.push({ path: ["method"], message: "expected a string" });
    if (typeof deadline !== "number" || !Number.isFinite(deadline)) envelope.push({ path: ["deadline"], message: "expected epoch milliseconds" });
    if (typeof message.traceparent !== "string") envelope.push({ path: ["traceparent"], message: "expected a string" });
    if (envelope.length) return fail(validationFailed("request", envelope));
    // Nobody waits for the answer any more: doing the work would only burn a slot.
    if ((deadline as number) <= Date.now()) return;
    const registration = handlers.get(method as string);
    if (!registration) {
      return fail(new RpcError(RpcErrorCodes.METHOD_NOT_FOUND, `${service} does not serve ${String(method)}`, { details: { method, served: [...handlers.keys()].sort() } }));
    }
    let caller: string | undefined;
    if (identities) {
      try {
        caller = identities.verify(message.identity, service);
        await checkAccess(registration.method, caller, message.token);
      } catch (error) {
        return fail(toRpcError(error));
      }
    }
    const parsed = registration.method.request.safeParse(message.body);
    if (!parsed.success) return fail(validationFailed("request", parsed.error.issues));
    const ctx = makeContext(message, method as string, deadline as number, caller);
    // The server span continues the caller's trace; the handler runs in it, so its SQL statements,
    // calls and outbox rows are its children (and ctx.traceparent names it for explicit hand-overs).
    const parent = tracingOn() ? contextWithTraceparent(ctx.traceparent) : undefined;
    const span = parent ? busTracer.startSpan(method as string, SPAN_OPTIONS.SERVER, parent) : undefined;
    const traced = span?.isRecording() === true;
    if (span && parent && traced) {
      span.setAttributes({ "rpc.system": "boxoffice-bus", "rpc.service": service, "rpc.method": method as string, "boxoffice.caller": ctx.caller });
      ctx.traceparent = traceparentOf(span);
    }
    let result: unknown;
    const startedAt = performance.now();
    try {
      result = span && parent && traced ? await otelContext.with(trace.setSpan(parent, span), () => registration.handler(parsed.data, ctx)) : await registration.handler(parsed.data, ctx);
    } catch (error) {
      if (span && traced) {
        recordFailure(span, error);
        span.end();
      }
      record(method as string, startedAt, false);
      const rpcError = toRpcError(error);
      if (!(error instanceof RpcError)) logger.error({ err: error, method, requestId: id }, "RPC handler failed");
      return fail(rpcError);
    }
    record(method as string, startedAt, true);
    if (span && traced) span.end();
    await reply(replyTo, { id, ok: true, body: result === undefined ? null : result }, method, typeof deadline === "number" ? deadline : undefined);
  }

  /** Starts answering a request taken from the channel: it is ours to answer even if stop() was called meanwhile. */
  function take(message: Message): void {
    const task: Promise<void> = serve(message)
      .catch((error: unknown) => logger.error({ err: error, channel }, "RPC request failed unexpectedly"))
      .finally(() => {
        tasks.delete(task);
        wakeOne();
      });
    tasks.add(task);
  }

  async function receiveLoop(signal: AbortSignal, many: boolean): Promise<void> {
    for (let failures = 0; running; ) {
      const free = concurrency - tasks.size - receiving;
      if (free <= 0) {
        await new Promise<void>((resolve) => slotWaiters.push(resolve));
        continue;
      }
      // A batch receive holds the slots it may fill; half the free ones, so the other loop can wait too.
      const max = many ? Math.min(MAX_BATCH, Math.ceil(free / 2)) : 1;
      let messages: Message[];
      receiving += max;
      try {
        messages = many ? await layer.receiveMany!(channel, { signal, max }) : [await layer.receive(channel, { signal })];
        failures = 0;
      } catch (error) {
        if (!running) return;
        logger.warn({ err: error, channel }, "RPC receive failed; retrying");
        await sleep(Math.min(MAX_LOOP_BACKOFF_MS, 20 * 2 ** failures++));
        continue;
      } finally {
        receiving -= max;
        // Slots held but not filled are free again for a loop that found none.
        if (max > 1) wakeOne();
      }
      for (const message of messages) take(message);
    }
  }

  const server: RpcServer = {
    handle(method, handler) {
      if (!method || typeof method.name !== "string" || !method.request) throw new InvalidRpcOptionError("method", "expected a MethodDef from defineMethod");
      if (method.service !== service) throw new InvalidRpcOptionError("method", `${method.name} belongs to ${method.service}, not ${service}`);
      if (typeof handler !== "function") throw new InvalidRpcOptionError("handler", "expected a function");
      if (handlers.has(method.name)) throw new InvalidRpcOptionError("method", `${method.name} is already handled`);
      handlers.set(method.name, { method: method as unknown as MethodDef, handler: handler as RpcHandler<unknown, unknown> });
      return server;
    },
    start() {
      if (running) return;
      running = true;
      stopReceiving = new AbortController();
      const signal = stopReceiving.signal;
      // With receiveMany, two loops take batches (one waits while the other's batch starts);
      // otherwise `receivers` single receives wait side by side.
      const many = typeof layer.receiveMany === "function";
      const loops = many ? Math.min(2, concurrency) : Math.min(receivers, concurrency);
      loopDone = Promise.all(Array.from({ length: loops }, () => receiveLoop(signal, many))).then(() => undefined);
    },
    async stop() {
      if (!running) {
        await Promise.all(tasks);
        return;
      }
      running = false;
      // An aborted receive loses no message: what we did not take stays for other instances.
      stopReceiving.abort();
      wakeAll();
      await loopDone;
      while (tasks.size) await Promise.all(tasks);
    },
    get inFlight() {
      return tasks.size;
    },
    get repliesDropped() {
      return repliesDropped;
    },
    stats,
  };
  servedMethods.set(server, handlers);
  return server;
}
