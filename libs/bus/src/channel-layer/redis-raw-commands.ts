// The hot path's commands (a batch's script call, a receive loop's pop) written as one prepared RESP
// buffer on an ioredis connection, instead of one ioredis Command each. An ioredis Command flattens
// and converts its arguments, builds its bytes piece by piece, and settles through two promises and
// a callback wrapper; profiled, that was about a quarter of a process's JavaScript on a sequential
// call's critical path. Here the bytes are counted, written into one buffer, and each command's
// answer goes straight to a callback.
// The commands still go through the connection's own queue, so ioredis reads their answers in
// order, fails them when the connection closes, and the host's watchdog sees them like any other.
import type { Redis } from "ioredis";

/** One command whose bytes are already written; ioredis's reply handling calls resolve or reject. */
export class RawCommand {
  // What ioredis's reply handling and connection-loss code read or call on a queued command.
  readonly name: string;
  readonly args: readonly unknown[] = [];
  readonly inTransaction = false;
  isResolved = false;
  readonly #bytes: Buffer;
  readonly #onReply: (reply: unknown) => void;
  readonly #onError: (error: unknown) => void;

  constructor(name: string, bytes: Buffer, onReply: (reply: unknown) => void, onError: (error: unknown) => void) {
    this.name = name;
    this.#bytes = bytes;
    this.#onReply = onReply;
    this.#onError = onError;
  }

  resolve(reply: unknown): void {
    if (this.isResolved) return;
    this.isResolved = true;
    this.#onReply(reply);
  }

  reject(error: unknown): void {
    if (this.isResolved) return;
    this.isResolved = true;
    this.#onError(error);
  }

  /** ioredis re-sends a command through this when it replays a queue (not used with our options, kept correct). */
  toWritable(): Buffer {
    return this.#bytes;
  }

  // ioredis calls these on commands it times out or replays; ours are timed by the host's watchdog.
  setTimeout(): void {}
  setBlockingTimeout(): void {}
  extractBlockingTimeout(): undefined {
    return undefined;
  }
  _clearTimers(): void {}
}

/**
 * Arguments already written as RESP bulk strings: the fixed head of a command the hot path issues
 * over and over (the script's name, hash and key; the pop's name, key and options), made once and
 * copied as bytes instead of converted and written argument by argument on every call.
 */
export class RespArgs {
  readonly bytes: Buffer;
  readonly count: number;
  constructor(args: readonly Arg[]) {
    this.bytes = Buffer.allocUnsafeSlow(argsSize(args));
    writeArgs(this.bytes, 0, args);
    this.count = args.length;
  }
}

type Arg = string | number | Buffer;

const CRLF = 0x0a0d; // "\r\n" as a little-endian uint16

function digitsOf(n: number): number {
  let digits = 1;
  for (let v = n; v >= 10; v = Math.floor(v / 10)) digits++;
  return digits;
}

/** Non-negative integers (counts, times, capacities) are written digit by digit, without a string. */
const isDigits = (n: number) => n >= 0 && Number.isSafeInteger(n);

function argLength(arg: Arg): number {
  if (typeof arg === "string") return Buffer.byteLength(arg);
  if (typeof arg === "number") return isDigits(arg) ? digitsOf(arg) : String(arg).length;
  return arg.length;
}

function argsSize(args: readonly (Arg | RespArgs)[]): number {
  let size = 0;
  for (const arg of args) {
    if (arg instanceof RespArgs) {
      size += arg.bytes.length;
      continue;
    }
    const length = argLength(arg);
    size += 1 + digitsOf(length) + 2 + length + 2;
  }
  return size;
}

function argCount(args: readonly (Arg | RespArgs)[]): number {
  let count = 0;
  for (const arg of args) count += arg instanceof RespArgs ? arg.count : 1;
  return count;
}

/** Bytes `args` take as one RESP command. */
export function commandSize(args: readonly (Arg | RespArgs)[]): number {
  return 1 + digitsOf(argCount(args)) + 2 + argsSize(args);
}

function writeInt(out: Buffer, at: number, n: number): number {
  const digits = digitsOf(n);
  for (let i = at + digits - 1, v = n; i >= at; i--, v = Math.floor(v / 10)) out[i] = 48 + (v % 10);
  return at + digits;
}

function writeArgs(out: Buffer, at: number, args: readonly (Arg | RespArgs)[]): number {
  for (const arg of args) {
    if (arg instanceof RespArgs) {
      arg.bytes.copy(out, at);
      at += arg.bytes.length;
      continue;
    }
    out[at++] = 36; // "$"
    if (typeof arg === "string") {
      const length = Buffer.byteLength(arg);
      at = writeInt(out, at, length);
      out.writeUInt16LE(CRLF, at);
      at += 2;
      at += out.write(arg, at);
    } else if (typeof arg === "number") {
      if (isDigits(arg)) {
        at = writeInt(out, at, digitsOf(arg));
        out.writeUInt16LE(CRLF, at);
        at = writeInt(out, at + 2, arg);
      } else {
        const text = String(arg);
        at = writeInt(out, at, text.length);
        out.writeUInt16LE(CRLF, at);
        at += 2;
        at += out.write(text, at, "latin1");
      }
    } else {
      at = writeInt(out, at, arg.length);
      out.writeUInt16LE(CRLF, at);
      at += 2;
      arg.copy(out, at);
      at += arg.length;
    }
    out.writeUInt16LE(CRLF, at);
    at += 2;
  }
  return at;
}

/** Writes `args` as one RESP command into `out` at `at`; returns where it ends. */
export function writeCommand(out: Buffer, at: number, args: readonly (Arg | RespArgs)[]): number {
  out[at++] = 42; // "*"
  at = writeInt(out, at, argCount(args));
  out.writeUInt16LE(CRLF, at);
  return writeArgs(out, at + 2, args);
}

/** One command for `writeCommands`: its arguments (the name first) and where its answer goes. */
export interface RawRequest {
  /** The command's name in lower case, as ioredis names its commands. */
  readonly name: string;
  readonly args: readonly (Arg | RespArgs)[];
  onReply(reply: unknown): void;
  onError(error: unknown): void;
}

/**
 * Writes `requests` on `conn` in one socket write, queued on the connection in that order. When the
 * connection cannot take them (not ready, or its socket closing), each fails at once, as ioredis
 * fails commands without an offline queue.
 */
export function writeCommands(conn: Redis, requests: readonly RawRequest[]): void {
  const stream = conn.stream as (typeof conn.stream & { writable?: boolean }) | undefined;
  if (conn.status !== "ready" || !stream?.writable) {
    const error = new Error("Stream isn't writeable and enableOfflineQueue options is false");
    for (const request of requests) request.onError(error);
    return;
  }
  let size = 0;
  for (const request of requests) size += commandSize(request.args);
  const out = Buffer.allocUnsafe(size);
  const commands: RawCommand[] = [];
  let at = 0;
  for (const request of requests) {
    const start = at;
    at = writeCommand(out, at, request.args);
    commands.push(new RawCommand(request.name, out.subarray(start, at), request.onReply, request.onError));
  }
  stream.write(out);
  const queue = (conn as unknown as { commandQueue: { push(item: unknown): void } }).commandQueue;
  const select = (conn as unknown as { condition?: { select: number } }).condition?.select ?? 0;
  for (const command of commands) queue.push({ command, stream: undefined, select });
}
