// What travels with every request besides its body: the deadline, the W3C trace context, who is
// calling and, when acting for an end user, that user's identity token.
import { randomFillSync } from "node:crypto";

export interface RpcContext {
  method: string;
  requestId: string;
  /** Epoch milliseconds after which nobody waits for the answer. */
  deadline: number;
  timeLeftMs(): number;
  /** The W3C traceparent of this call; pass the context to your own calls to continue the trace. */
  traceparent: string;
  traceId: string;
  /** Service name of the caller: verified when the server checks service identities, else as claimed. */
  caller: string;
  /** The end user's identity token, when the call acts for a user. */
  token?: string;
  /** Aborts when the deadline passes: hand it to anything cancellable. */
  signal: AbortSignal;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

// Ids for every call: one random fill per few hundred calls instead of one system call each.
const pool = Buffer.alloc(16384);
let poolOffset = pool.length;

function randomHex(bytes: number): string {
  if (poolOffset + bytes > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  poolOffset += bytes;
  return pool.toString("hex", poolOffset - bytes, poolOffset);
}

export function traceIdOf(traceparent: string): string | undefined {
  const match = TRACEPARENT.exec(traceparent);
  if (!match || match[1] === "ff" || match[2] === ZERO_TRACE || match[3] === ZERO_SPAN) return undefined;
  return match[2];
}

/**
 * The traceparent for an outgoing call: the same trace as `parent` with a new span id, or a fresh
 * trace when `parent` is absent or invalid (W3C: an invalid header is ignored, not repaired).
 */
export function childTraceparent(parent: string | undefined): string {
  const match = parent ? TRACEPARENT.exec(parent) : null;
  const traceId = parent ? traceIdOf(parent) : undefined;
  if (match && traceId) return `00-${traceId}-${randomHex(8)}-${match[4]}`;
  // A fresh trace: trace id and span id from one conversion (this runs on every untraced call).
  const ids = randomHex(24);
  return `00-${ids.slice(0, 32)}-${ids.slice(32)}-01`;
}

/** A request as it travels on "<service>.rpc". */
export interface RpcRequestWire {
  id: string;
  method: string;
  body: unknown;
  replyTo: string;
  deadline: number;
  traceparent: string;
  caller: string;
  /** The caller's signed, short-lived service identity, addressed to the called service. */
  identity?: string;
  token?: string;
}

/** A reply as it travels on the caller's "!" channel. */
export type RpcReplyWire = { id: string; ok: true; body: unknown } | { id: string; ok: false; error: unknown };

// The compact envelope: a request is `{ q: [id, method, body, replyTo, deadline, traceparent, caller,
// token?, identity?] }` and its reply `{ a: [id, ok, body or error] }`. Seven map keys packed and
// unpacked each way were about a tenth of each process's CPU per call; an array halves msgpack's
// work on the envelope. Clients send only this form; servers still read the seven-key form and
// answer each request in the form it came in, so servers are deployed before clients.

/** The compact form of `request`, as clients send it. */
export function packRequest(request: RpcRequestWire): { q: unknown[] } {
  const q: unknown[] = [request.id, request.method, request.body, request.replyTo, request.deadline, request.traceparent, request.caller];
  if (request.identity !== undefined) q.push(request.token ?? null, request.identity);
  else if (request.token !== undefined) q.push(request.token);
  return { q };
}

/** A request in either form, as the seven-key record (fields not checked); `compact` says which form it came in. */
export function unpackRequest(message: Record<string, unknown>): { request: Record<string, unknown>; compact: boolean } {
  const q = message.q;
  if (!Array.isArray(q)) return { request: message, compact: false };
  const request: Record<string, unknown> = { id: q[0], method: q[1], body: q[2], replyTo: q[3], deadline: q[4], traceparent: q[5], caller: q[6] };
  if (q[7] !== undefined && q[7] !== null) request.token = q[7];
  if (q[8] !== undefined) request.identity = q[8];
  return { request, compact: true };
}

/** `reply` in the compact form. */
export function packReply(reply: RpcReplyWire): { a: unknown[] } {
  return { a: [reply.id, reply.ok, reply.ok ? reply.body : reply.error] };
}
