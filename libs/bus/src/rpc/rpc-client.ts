// The calling side: requests go to "<service>.rpc"; replies come back on one process-local "!"
// channel per client, read by two receiveMany loops (or 32 receives on a layer without it) that hand
// each reply to its call by request id.
import { randomBytes } from "node:crypto";
import { context as otelContext } from "@opentelemetry/api";
import type { ChannelLayer } from "../channel-layer/types.ts";
import { childTraceparent, packRequest, type RpcContext, type RpcRequestWire } from "./context.ts";
import { requestChannelOf, type MethodDef } from "./define-method.ts";
import type { ServiceIdentity } from "./service-identity.ts";
import { afterQueuedWrites, sleep } from "./turns.ts";
import { busTracer, contextWithTraceparent, recordFailure, SPAN_OPTIONS, traceparentOf, tracingOn } from "../tracing/spans.ts";
import { channelErrorCode, InvalidRpcOptionError, RpcError, RpcErrorCodes, toRpcError, validationFailed } from "./errors.ts";

export interface RpcClientOptions {
  layer: ChannelLayer;
  /** This process's service name; servers see it as `ctx.caller`. */
  service: string;
  /** Deadline of a call that names none and inherits none. Default 5000. */
  defaultDeadlineMs?: number;
  /** This service's identity: every request carries a proof of it for the service it calls. */
  identity?: ServiceIdentity;
}

export const DEFAULT_RPC_CLIENT_OPTIONS = { defaultDeadlineMs: 5000 };

export interface CallOptions {
  /** Time allowed for this call; with `context`, the earlier of the two deadlines wins. */
  deadlineMs?: number;
  /**
   * When the request channel is full, wait in line (this process's calls to that channel, oldest
   * first) until it takes the request or the deadline comes, instead of failing with BUSY at once.
   */
  waitForCapacity?: boolean;
  /** The end user's identity token, when acting for a user. Default: the context's. */
  token?: string;
  /** Continue this trace (a new span id is made). Default: the context's, else a new trace. */
  traceparent?: string;
  /** The context of the request being handled: its deadline, trace and token carry over. */
  context?: Pick<RpcContext, "deadline" | "traceparent" | "token">;
  /** Aborting rejects the call with the signal's reason; a later reply is dropped. */
  signal?: AbortSignal;
}

export interface RpcClient {
  call<Req, Res, ReqIn, ResIn>(method: MethodDef<Req, Res, ReqIn, ResIn>, input: ReqIn, options?: CallOptions): Promise<Res>;
  /** Calls with `waitForCapacity` now waiting in line for room in a full request channel (for metrics). */
  readonly waitingForRoom: number;
  /** Calls that have waited in such a line since the client was made. */
  readonly waitedForRoom: number;
  /** Stops the reply loop; calls still waiting fail with UNAVAILABLE. */
  close(): Promise<void>;
}

interface PendingCall {
  method: MethodDef;
  /** Epoch ms after which the call fails with DEADLINE_EXCEEDED. */
  deadline: number;
  /** When the call started (for the deadline's message). */
  startedAt: number;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * Calls with `waitForCapacity` that found their request channel full wait in line per channel in
 * this process, and one prober per channel offers the line's head to the channel, a batch at a
 * time, first 1 ms after the refusal, then at doubling intervals up to this. Each call retrying on
 * its own with full jitter up to 500 ms (before) slept through the moments the channel had room,
 * let newcomers pass the ones waiting longest, and sent a Redis script per waiting call per retry:
 * in the 40,000-buyer on-sale, checkout calls past inventory's channel (capacity 100 + 32 in
 * progress) became the purchase's slow tail.
 */
const MAX_ROOM_PROBE_MS = 20;
/** Requests of a channel's line offered in one probe (one batch); the channel refuses those past its capacity. */
const ROOM_PROBE_BATCH = 64;
/**
 * Receives kept waiting on the reply channel. One would cap a busy client at one reply per bus
 * round trip; several let the layer hand over a batch of replies per round trip.
 */
const REPLY_RECEIVERS = 32;
/**
 * With receiveMany, two loops each take a batch of replies per call: while one hands its batch to
 * the calls, the other already waits, so the layer's pop for the next batch is never held up.
 */
const REPLY_BATCH_LOOPS = 2;
const REPLY_BATCH_MAX = 256;
const MAX_LOOP_BACKOFF_MS = 2000;
/** Least time between two scans of the pending calls for passed deadlines (a deadline fires at most this late). */
const DEADLINE_SCAN_MS = 5;
const NO_OPTIONS: CallOptions = Object.freeze({});

/** A call waiting for room in its full request channel. */
interface WaitingSend {
  id: string;
  call: PendingCall;
  wire: Record<string, unknown>;
}


function deadlineExceeded(method: string, reason: string): RpcError {
  return new RpcError(RpcErrorCodes.DEADLINE_EXCEEDED, `${method}: ${reason}`, { details: { method } });
}

export function createRpcClient(options: RpcClientOptions): RpcClient {
  const { layer, service } = options ?? ({} as RpcClientOptions);
  if (!layer || typeof layer.send !== "function") throw new InvalidRpcOptionError("layer", "expected a ChannelLayer");
  if (typeof service !== "string" || service.length === 0) throw new InvalidRpcOptionError("service", "expected a non-empty string");
  const defaultDeadlineMs = options.defaultDeadlineMs ?? DEFAULT_RPC_CLIENT_OPTIONS.defaultDeadlineMs;
  if (!(defaultDeadlineMs > 0)) throw new InvalidRpcOptionError("defaultDeadlineMs", "expected a positive number");
  const identity = options.identity;
  if (identity && identity.service !== service) throw new InvalidRpcOptionError("identity", `the identity is ${identity.service}'s, the client calls as ${service}`);

  const clientId = randomBytes(6).toString("hex");
  let counter = 0;
  let closed = false;
  const pending = new Map<string, PendingCall>();
  const stopLoop = new AbortController();
  let replyChannel: Promise<string> | undefined;
  /** Set once the reply channel exists, so a call need not wait a turn for it. */
  let replyChannelName: string | undefined;
  let loopDone: Promise<void> | undefined;

  // One timer for every pending call's deadline instead of one setTimeout per call: it is armed for
  // the earliest deadline, and when it fires it fails the calls whose deadline passed and re-arms
  // for the earliest left. Most deadlines are "now + the default", so a new call rarely moves it.
  let deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  let deadlineTimerAt = Infinity;
  /** Whether the timer holds the process open: only while calls are pending, as their own timers would. */
  let deadlineTimerRefed = false;

  function armDeadline(at: number): void {
    if (at < deadlineTimerAt) {
      if (deadlineTimer) clearTimeout(deadlineTimer);
      deadlineTimerAt = at;
      deadlineTimer = setTimeout(checkDeadlines, Math.max(0, at - Date.now()));
      deadlineTimerRefed = true;
    } else if (!deadlineTimerRefed) {
      deadlineTimer!.ref();
      deadlineTimerRefed = true;
    }
  }

  function checkDeadlines(): void {
    deadlineTimer = undefined;
    deadlineTimerAt = Infinity;
    const now = Date.now();
    let next = Infinity;
    for (const [id, call] of pending) {
      if (call.deadline <= now) {
        pending.delete(id);
        call.reject(deadlineExceeded(call.method.name, `no reply within ${call.deadline - call.startedAt} ms`));
      } else if (call.deadline < next) next = call.deadline;
    }
    // A scan walks every pending call: at most one per DEADLINE_SCAN_MS, however the deadlines spread.
    if (next !== Infinity) armDeadline(Math.max(next, now + DEADLINE_SCAN_MS));
  }

  /** Called when a call leaves `pending`: an idle client's timer no longer keeps the process alive. */
  function released(): void {
    if (pending.size === 0 && deadlineTimerRefed) {
      deadlineTimer?.unref();
      deadlineTimerRefed = false;
    }
  }

  function dispatch(received: Record<string, unknown>): void {
    // The compact form `{a: [id, ok, body or error]}` is read in place; the three-key form as it is.
    const a = received.a;
    const compact = Array.isArray(a);
    const id = compact ? a[0] : received.id;
    const call = typeof id === "string" ? pending.get(id) : undefined;
    // A reply nobody waits for any more (deadline passed, aborted) is dropped quietly.
    if (!call) return;
    pending.delete(id as string);
    released();
    if ((compact ? a[1] : received.ok) === true) {
      const parsed = call.method.response.safeParse(compact ? a[2] : received.body);
      if (parsed.success) call.resolve(parsed.data);
      else call.reject(validationFailed("response", parsed.error.issues));
    } else {
      call.reject(RpcError.fromWire(compact ? a[2] : received.error));
    }
  }

  async function replyLoop(channel: string): Promise<void> {
    const many = layer.receiveMany?.bind(layer);
    const receiveOptions = { signal: stopLoop.signal, max: REPLY_BATCH_MAX };
    for (let failures = 0; !closed; ) {
      try {
        if (many) {
          const messages = await many(channel, receiveOptions);
          failures = 0;
          for (const message of messages) dispatch(message);
          await afterQueuedWrites();
        } else {
          const message = await layer.receive(channel, receiveOptions);
          failures = 0;
          dispatch(message);
        }
      } catch {
        if (closed) return;
        // The bus is down or hiccuped: callers already fail or time out; keep listening.
        await sleep(Math.min(MAX_LOOP_BACKOFF_MS, 20 * 2 ** failures++));
      }
    }
  }

  function ensureReplyChannel(): Promise<string> {
    replyChannel ??= layer.newChannel("rpc").then(
      (channel) => {
        const loops = layer.receiveMany ? REPLY_BATCH_LOOPS : REPLY_RECEIVERS;
        loopDone = Promise.all(Array.from({ length: loops }, () => replyLoop(channel))).then(() => undefined);
        replyChannelName = channel;
        return channel;
      },
      (error: unknown) => {
        replyChannel = undefined; // try again on the next call
        throw error;
      },
    );
    return replyChannel;
  }

  /** Fails the call `call` (if it still waits) with what sending its request raised. */
  function sendFailed(id: string, call: PendingCall, error: unknown): void {
    if (pending.get(id) !== call) return; // settled meanwhile (deadline, abort, close)
    pending.delete(id);
    released();
    call.reject(toRpcError(error));
  }

  /** Calls waiting for room in a full request channel, per channel, oldest first. */
  const waitingForRoom = new Map<string, WaitingSend[]>();

  let waitedForRoom = 0;

  /** Puts a call in its channel's line; the first one in an empty line starts the line's prober. */
  function waitForRoom(channel: string, waiting: WaitingSend): void {
    waitedForRoom++;
    const line = waitingForRoom.get(channel);
    if (line) {
      line.push(waiting);
      return;
    }
    const fresh = [waiting];
    waitingForRoom.set(channel, fresh);
    probeForRoom(channel, fresh).then(undefined, (error: unknown) => {
      // Not reached (each send's failure is the call's): fail whatever still waits rather than leave it.
      for (const w of fresh.splice(0)) sendFailed(w.id, w.call, error);
    });
  }

  /**
   * Offers the line's head to the channel until the line is empty: the first requests, in order, as
   * one tick's sends (one batch); what the channel takes leaves the line, what exceeds its capacity
   * stays first, and calls whose deadline passed or that were aborted meanwhile (already failed)
   * are dropped.
   */
  async function probeForRoom(channel: string, line: WaitingSend[]): Promise<void> {
    try {
      for (let wait = 1; ; ) {
        await sleep(wait);
        let settled = 0;
        while (settled < line.length && pending.get(line[settled].id) !== line[settled].call) settled++;
        // Deadline or abort meanwhile: already failed. (Further ones are dropped when they reach the head.)
        if (settled > 0) line.splice(0, settled);
        if (line.length === 0 || closed) return;
        const offered = line.slice(0, ROOM_PROBE_BATCH);
        const results = await Promise.allSettled(offered.map((w) => layer.send(channel, w.wire)));
        const refused: WaitingSend[] = [];
        for (let i = 0; i < offered.length; i++) {
          const result = results[i];
          if (result.status === "fulfilled") continue;
          if (channelErrorCode(result.reason) === "CHANNEL_FULL") refused.push(offered[i]);
          else sendFailed(offered[i].id, offered[i].call, result.reason);
        }
        line.splice(0, offered.length, ...refused);
        // Room appeared: the rest of the line is offered again at once; still full: wait twice as long.
        wait = refused.length < offered.length ? 1 : Math.min(MAX_ROOM_PROBE_MS, wait * 2);
      }
    } finally {
      if (waitingForRoom.get(channel) === line) waitingForRoom.delete(channel);
    }
  }

  /** Request channel names, made once per service called rather than per call. */
  const requestChannels = new Map<string, string>();
  function requestChannelFor(service: string): string {
    const channel = requestChannelOf(service);
    requestChannels.set(service, channel);
    return channel;
  }

  function start<Res>(method: MethodDef, input: unknown, callOptions: CallOptions, replyTo: string): Promise<Res> {
    const { signal, context } = callOptions;
    if (signal?.aborted) throw signal.reason;
    const now = Date.now();
    let deadline = now + (callOptions.deadlineMs ?? defaultDeadlineMs);
    if (context) deadline = callOptions.deadlineMs === undefined ? context.deadline : Math.min(deadline, context.deadline);
    if (!Number.isFinite(deadline)) throw new InvalidRpcOptionError("deadlineMs", "expected a finite number");
    if (deadline <= now) throw deadlineExceeded(method.name, "the deadline had passed before the call");

    const id = `${clientId}.${++counter}`;
    const token = callOptions.token ?? context?.token;
    const channel = requestChannels.get(method.service) ?? requestChannelFor(method.service);
    // The client span's id is the parent the server sees; untraced, a fresh span id in the same trace.
    const parentTraceparent = callOptions.traceparent ?? context?.traceparent;
    const span = tracingOn() ? busTracer.startSpan(method.name, SPAN_OPTIONS.CLIENT, contextWithTraceparent(parentTraceparent, otelContext.active())) : undefined;
    const traced = span?.isRecording() === true;
    if (span && traced) span.setAttributes({ "rpc.system": "boxoffice-bus", "rpc.service": method.service, "rpc.method": method.name, "messaging.destination.name": channel });
    const request: RpcRequestWire = {
      id,
      method: method.name,
      body: input,
      replyTo,
      deadline,
      traceparent: span && traced ? traceparentOf(span) : childTraceparent(parentTraceparent),
      caller: service,
    };
    if (token !== undefined) request.token = token;
    if (identity) request.identity = identity.proofFor(method.service);

    return new Promise<Res>((resolve, reject) => {
      const call: PendingCall = { method, deadline, startedAt: now, resolve: resolve as (value: unknown) => void, reject };
      if (traced || signal) {
        // Traced or abortable calls have something to undo when they settle, however they settle.
        let onAbort: (() => void) | undefined;
        const done = () => {
          if (traced) span!.end();
          if (onAbort) signal!.removeEventListener("abort", onAbort);
        };
        call.resolve = (value) => {
          done();
          resolve(value as Res);
        };
        call.reject = (error) => {
          if (traced) recordFailure(span!, error);
          done();
          reject(error);
        };
        if (signal) {
          onAbort = () => {
            if (pending.get(id) !== call) return;
            pending.delete(id);
            released();
            call.reject(signal.reason);
          };
          signal.addEventListener("abort", onAbort, { once: true });
        }
      }
      // Registered before sending: a fast reply must find its call.
      pending.set(id, call);
      armDeadline(deadline);
      const wire = packRequest(request);
      const patient = callOptions.waitForCapacity === true;
      // A line already waits for this channel: join its end rather than pass the calls in it.
      if (patient && waitingForRoom.has(channel)) return waitForRoom(channel, { id, call, wire });
      layer.send(channel, wire).then(undefined, (error: unknown) => {
        if (channelErrorCode(error) !== "CHANNEL_FULL" || !patient) return sendFailed(id, call, error);
        waitForRoom(channel, { id, call, wire });
      });
    });
  }

  return {
    call<Req, Res, ReqIn, ResIn>(method: MethodDef<Req, Res, ReqIn, ResIn>, input: ReqIn, callOptions: CallOptions = NO_OPTIONS): Promise<Res> {
      try {
        if (!method || typeof method.name !== "string" || typeof method.service !== "string" || !method.response) {
          throw new InvalidRpcOptionError("method", "expected a MethodDef from defineMethod");
        }
        if (closed) throw new RpcError(RpcErrorCodes.UNAVAILABLE, "the RPC client is closed");
        if (callOptions.signal?.aborted) throw callOptions.signal.reason;
        const def = method as unknown as MethodDef;
        if (replyChannelName !== undefined) return start<Res>(def, input, callOptions, replyChannelName);
        // The first call makes the reply channel (and its loops); calls meanwhile share the wait.
        return ensureReplyChannel().then(
          (replyTo) => start<Res>(def, input, callOptions, replyTo),
          (error: unknown) => {
            throw toRpcError(error);
          },
        );
      } catch (error) {
        return Promise.reject(error);
      }
    },

    get waitingForRoom() {
      let waiting = 0;
      for (const line of waitingForRoom.values()) waiting += line.length;
      return waiting;
    },
    get waitedForRoom() {
      return waitedForRoom;
    },

    async close() {
      if (closed) return;
      closed = true;
      stopLoop.abort();
      if (deadlineTimer) clearTimeout(deadlineTimer);
      deadlineTimer = undefined;
      deadlineTimerAt = Infinity;
      for (const [id, call] of pending) {
        pending.delete(id);
        call.reject(new RpcError(RpcErrorCodes.UNAVAILABLE, "the RPC client was closed before the reply arrived"));
      }
      await loopDone;
    },
  };
}
