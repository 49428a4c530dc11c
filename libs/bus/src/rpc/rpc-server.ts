// The serving side: every instance of a service receives from the same "<service>.rpc" channel,
// so instances compete for requests (load balancing and discovery without a registry). An instance
// receives only while it has a free handler slot (bulkhead), leaving the rest to other instances.
import type { ChannelLayer, Message } from "../channel-layer/types.ts";
import { packReply, traceIdOf, unpackRequest, type RpcContext, type RpcReplyWire } from "./context.ts";
import { requestChannelOf, type MethodDef } from "./define-method.ts";
import { InvalidRpcOptionError, RpcError, RpcErrorCodes, toRpcError, validationFailed } from "./errors.ts";
import type { ServiceIdentityVerifier } from "./service-identity.ts";
import { afterQueuedWrites, sleep } from "./turns.ts";
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

/** Where a request's answer goes, and in which envelope (the one the request came in). */
interface ReplyTo {
  readonly channel: string;
  readonly compact: boolean;
}

interface Registration {
  method: MethodDef;
  handler: RpcHandler<unknown, unknown>;
  /** This method's entry in stats.methods, once it has one. */
  stats?: RpcMethodStats;
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

/**
 * A handler's view of its request. What most handlers never read is made on first use: the trace id
 * (a parse of the traceparent) and the deadline's AbortSignal (a timer per request is not free).
 */
class ServerContext implements RpcContext {
  readonly method: string;
  readonly requestId: string;
  readonly deadline: number;
  traceparent: string;
  readonly caller: string;
  token?: string;
  #traceId: string | undefined;
  #signal: AbortSignal | undefined;

  constructor(request: Record<string, unknown>, method: string, deadline: number, verifiedCaller: string | undefined) {
    this.method = method;
    this.requestId = request.id as string;
    this.deadline = deadline;
    this.traceparent = request.traceparent as string;
    this.caller = verifiedCaller ?? (typeof request.caller === "string" ? request.caller : "unknown");
    if (typeof request.token === "string") this.token = request.token;
  }

  /** The trace id of the request as it arrived (a server span keeps the trace, so it stays right). */
  get traceId(): string {
    this.#traceId ??= traceIdOf(this.traceparent) ?? "";
    return this.#traceId;
  }

  timeLeftMs(): number {
    return Math.max(0, this.deadline - Date.now());
  }

  get signal(): AbortSignal {
    this.#signal ??= AbortSignal.timeout(Math.max(0, this.deadline - Date.now()));
    return this.#signal;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
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
  /** Requests taken and not yet answered (their reply sent, or given up on). */
  let active = 0;
  /** Resolved when `active` drops to 0 (stop waits for them). */
  let idleWaiters: Array<() => void> = [];
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
  function record(registration: Registration, startedAt: number, ok: boolean): void {
    const ms = performance.now() - startedAt;
    const entry = (registration.stats ??= stats.methods[registration.method.name] ??= { calls: 0, errors: 0, latencyBuckets: new Array<number>(RPC_LATENCY_BUCKETS_MS.length + 1).fill(0) });
    let bucket = 0;
    while (bucket < RPC_LATENCY_BUCKETS_MS.length && ms > RPC_LATENCY_BUCKETS_MS[bucket]) bucket++;
    entry.latencyBuckets[bucket] += 1;
    entry.calls += 1;
    stats.handled += 1;
    if (!ok) {
      entry.errors += 1;
      stats.errors += 1;
    }
  }

  /** Sends a reply; resolves once it is stored, or given up on (counted and logged). */
  function reply(replyTo: ReplyTo, message: RpcReplyWire, method: unknown, deadline = Date.now()): Promise<void> {
    const wire = replyTo.compact ? packReply(message) : (message as unknown as Message);
    return layer.send(replyTo.channel, wire).then(undefined, (error: unknown) => replyFailed(replyTo, message, wire, method, deadline, error));
  }

  async function replyFailed(replyTo: ReplyTo, message: RpcReplyWire, wire: Message, method: unknown, deadline: number, firstError: unknown): Promise<void> {
    try {
      // A full reply inbox is a caller busy reading: the work is done, so wait for room until the
      // request's deadline rather than drop an answer the caller is waiting for.
      let error = firstError;
      for (let attempt = 1; ; attempt++) {
        const backoff = Math.min(200, 5 * 2 ** attempt);
        if ((error as { code?: unknown }).code !== "CHANNEL_FULL" || Date.now() + backoff >= deadline) throw error;
        await sleep(backoff);
        try {
          await layer.send(replyTo.channel, wire);
          return;
        } catch (again) {
          error = again;
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
      logger.warn({ err: error, method, requestId: message.id, replyTo: replyTo.channel }, "RPC reply dropped");
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

  /**
   * Answers one request. Returns undefined when nothing is left to wait for, else a promise that
   * settles once the reply is sent: a synchronous handler costs no promise of its own.
   */
  function serve(received: Message): Promise<void> | undefined {
    if (typeof received !== "object" || received === null || Array.isArray(received)) {
      logger.warn({ message: received }, "malformed RPC request dropped (not an object)");
      return undefined;
    }
    const { request: message, compact } = unpackRequest(received);
    const { id, method, deadline } = message;
    if (typeof id !== "string" || typeof message.replyTo !== "string") {
      logger.warn({ id, replyTo: message.replyTo }, "malformed RPC request dropped (no id or replyTo to answer)");
      return undefined;
    }
    const replyTo: ReplyTo = { channel: message.replyTo, compact };
    if (typeof method !== "string" || typeof deadline !== "number" || !Number.isFinite(deadline) || typeof message.traceparent !== "string") {
      const envelope: Array<{ path: string[]; message: string }> = [];
      if (typeof method !== "string") envelope.push({ path: ["method"], message: "expected a string" });
      if (typeof deadline !== "number" || !Number.isFinite(deadline)) envelope.push({ path: ["deadline"], message: "expected epoch milliseconds" });
      if (typeof message.traceparent !== "string") envelope.push({ path: ["traceparent"], message: "expected a string" });
      return reply(replyTo, { id, ok: false, error: validationFailed("request", envelope).toWire() }, method, typeof deadline === "number" ? deadline : undefined);
    }
    // Nobody waits for the answer any more: doing the work would only burn a slot.
    if (deadline <= Date.now()) return undefined;
    const registration = handlers.get(method);
    if (!registration) {
      const error = new RpcError(RpcErrorCodes.METHOD_NOT_FOUND, `${service} does not serve ${method}`, { details: { method, served: [...handlers.keys()].sort() } });
      return reply(replyTo, { id, ok: false, error: error.toWire() }, method, deadline);
    }
    if (identities) return serveVerified(message, registration, id, replyTo, deadline);
    return run(message, registration, id, replyTo, deadline, undefined);
  }

  async function serveVerified(message: Message, registration: Registration, id: string, replyTo: ReplyTo, deadline: number): Promise<void> {
    let caller: string;
    try {
      caller = identities!.verify(message.identity, service);
      await checkAccess(registration.method, caller, message.token);
    } catch (error) {
      return reply(replyTo, { id, ok: false, error: toRpcError(error).toWire() }, registration.method.name, deadline);
    }
    return run(message, registration, id, replyTo, deadline, caller);
  }

  function run(message: Message, registration: Registration, id: string, replyTo: ReplyTo, deadline: number, caller: string | undefined): Promise<void> | undefined {
    const method = registration.method.name;
    const parsed = registration.method.request.safeParse(message.body);
    if (!parsed.success) return reply(replyTo, { id, ok: false, error: validationFailed("request", parsed.error.issues).toWire() }, method, deadline);
    const ctx = new ServerContext(message, method, deadline, caller);
    // The server span continues the caller's trace; the handler runs in it, so its SQL statements,
    // calls and outbox rows are its children (and ctx.traceparent names it for explicit hand-overs).
    const parent = tracingOn() ? contextWithTraceparent(ctx.traceparent) : undefined;
    const span = parent ? busTracer.startSpan(method, SPAN_OPTIONS.SERVER, parent) : undefined;
    const traced = span !== undefined && span.isRecording();
    if (traced) {
      span.setAttributes({ "rpc.system": "boxoffice-bus", "rpc.service": service, "rpc.method": method, "boxoffice.caller": ctx.caller });
      void ctx.traceId; // the request's trace id, read before traceparent names the server span
      ctx.traceparent = traceparentOf(span);
    }
    const startedAt = performance.now();
    const failed = (error: unknown): Promise<void> => {
      if (traced) {
        recordFailure(span, error);
        span.end();
      }
      record(registration, startedAt, false);
      if (!(error instanceof RpcError)) logger.error({ err: error, method, requestId: id }, "RPC handler failed");
      return reply(replyTo, { id, ok: false, error: toRpcError(error).toWire() }, method, deadline);
    };
    const answered = (result: unknown): Promise<void> => {
      record(registration, startedAt, true);
      if (traced) span.end();
      return reply(replyTo, { id, ok: true, body: result === undefined ? null : result }, method, deadline);
    };
    let result: unknown;
    try {
      result = traced ? otelContext.with(trace.setSpan(parent!, span), () => registration.handler(parsed.data, ctx)) : registration.handler(parsed.data, ctx);
    } catch (error) {
      return failed(error);
    }
    // A synchronous handler's answer goes out in this turn; a promise is waited for.
    return isThenable(result) ? Promise.resolve(result).then(answered, failed) : answered(result);
  }

  const finished = () => {
    active -= 1;
    wakeOne();
    if (active === 0 && idleWaiters.length) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const wake of waiters) wake();
    }
  };
  const crashed = (error: unknown) => {
    logger.error({ err: error, channel }, "RPC request failed unexpectedly");
    finished();
  };

  /** Starts answering a request taken from the channel: it is ours to answer even if stop() was called meanwhile. */
  function take(message: Message): void {
    active += 1;
    let task: Promise<void> | undefined;
    try {
      task = serve(message);
    } catch (error) {
      crashed(error);
      return;
    }
    if (task) task.then(finished, crashed);
    else finished();
  }

  async function receiveLoop(signal: AbortSignal, many: boolean): Promise<void> {
    for (let failures = 0; running; ) {
      const free = concurrency - active - receiving;
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
      await afterQueuedWrites();
    }
  }

  const drained = () => (active === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve)));

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
        await drained();
        return;
      }
      running = false;
      // An aborted receive loses no message: what we did not take stays for other instances.
      stopReceiving.abort();
      wakeAll();
      await loopDone;
      while (active) await drained();
    },
    get inFlight() {
      return active;
    },
    get repliesDropped() {
      return repliesDropped;
    },
    stats,
  };
  servedMethods.set(server, handlers);
  return server;
}
