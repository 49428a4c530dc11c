// Connections to one Redis host: one shared connection for ordinary commands (ioredis pipelines
// them) and a pool of connections for blocking pops. Every connection fails fast while Redis is
// unreachable (no offline queue) and reconnects by itself in the background. A command that gets
// no answer in time (Redis hung, a dead peer behind a live socket) fails: one watchdog per host
// looks at each connection's oldest unanswered command, instead of ioredis's commandTimeout, which
// arms and clears a timer per command (profiled: about 40 µs of a sequential call's 0.4 ms).
import { Redis } from "ioredis";
import type { RedisOptions } from "ioredis";
import { BusUnavailableError } from "./errors.ts";
import type { RedisTlsOptions } from "./types.ts";

/** How long an operation waits for a connection that is (re)connecting before failing. */
export const READY_WAIT_MS = 500;
/** Seconds a blocking pop waits on the server before the loop re-checks who still wants messages. */
export const BLOCK_SECONDS = 1;
const MAX_IDLE_BLOCKING = 8;
/** Longest wait for the answer to an ordinary command before it fails. */
export const COMMAND_TIMEOUT_MS = 1500;
/** Longest wait for a blocking pop's answer: the pop's own block, plus as long again and a second. */
export const BLOCKING_TIMEOUT_MS = BLOCK_SECONDS * 1000 + 2000;
/** How often the watchdog looks: a hung command fails between its timeout and a tick later. */
const WATCHDOG_TICK_MS = 250;

/** What the watchdog knows of one connection: its oldest unanswered command, and since when. */
interface Watched {
  readonly timeoutMs: number;
  oldest: unknown;
  since: number;
}

const BASE_OPTIONS: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 1000,
  enableAutoPipelining: false,
  // Reconnect forever with a short backoff, so traffic resumes by itself when Redis is back.
  retryStrategy: (times: number) => Math.min(50 * times, 500),
};

export class RedisHost {
  readonly url: string;
  readonly command: Redis;
  readonly #tls: RedisTlsOptions;
  readonly #idle: Redis[] = [];
  readonly #all = new Map<Redis, Watched>();
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(url: string, tls: RedisTlsOptions = {}) {
    this.url = url;
    this.#tls = tls;
    // No auto-pipelining: it defers every write to setImmediate, which cost 0.1-0.3 ms per RPC
    // and a third of the 1-in-flight send→receive rate for no reliable throughput gain.
    this.command = this.#connect(COMMAND_TIMEOUT_MS);
  }

  #connect(timeoutMs: number): Redis {
    const conn = new Redis(this.url, { ...BASE_OPTIONS, ...tlsOptionsFor(this.url, this.#tls) });
    conn.setMaxListeners(0);
    // Connection errors surface through the commands that fail; without a listener ioredis logs them.
    conn.on("error", () => {});
    this.#all.set(conn, { timeoutMs, oldest: undefined, since: 0 });
    if (!this.#watchdog) {
      this.#watchdog = setInterval(() => this.#watch(), WATCHDOG_TICK_MS);
      this.#watchdog.unref();
    }
    return conn;
  }

  /**
   * Fails the commands of a connection whose oldest command has had no answer for its timeout, and
   * drops that connection, so later commands do not queue behind a hung one: the shared connection
   * reconnects by itself; a blocking one is closed for good (its loop takes a fresh one), since until
   * ioredis sees the close it would still look ready in the idle pool. Answers leave the queue
   * oldest first: while the oldest stays the same, nothing came back.
   */
  #watch(): void {
    const now = Date.now();
    for (const [conn, watched] of this.#all) {
      const oldest = conn.commandQueue.peekFront();
      if (oldest !== watched.oldest) {
        watched.oldest = oldest;
        watched.since = now;
        continue;
      }
      if (oldest === undefined || now - watched.since < watched.timeoutMs) continue;
      const error = new Error(`no answer from Redis within ${watched.timeoutMs} ms`);
      for (let item = conn.commandQueue.shift(); item; item = conn.commandQueue.shift()) item.command.reject(error);
      watched.oldest = undefined;
      if (conn === this.command) {
        conn.stream?.destroy();
      } else {
        this.#all.delete(conn);
        conn.disconnect();
      }
    }
  }

  unavailable(cause?: unknown): BusUnavailableError {
    if (this.#closed) return new BusUnavailableError("the channel layer is closed", { cause });
    const detail = cause instanceof Error ? `: ${cause.message}` : "";
    return new BusUnavailableError(`Redis at ${redactRedisUrl(this.url)} is unavailable${detail}`, { cause });
  }

  /** Resolves when `conn` can take commands; rejects with BusUnavailableError within READY_WAIT_MS. */
  ready(conn: Redis = this.command): Promise<void> {
    if (this.#closed) return Promise.reject(this.unavailable());
    if (conn.status === "ready") return Promise.resolve();
    if (conn.status === "end" || conn.status === "close" && !conn.options.retryStrategy) return Promise.reject(this.unavailable());
    return new Promise((resolve, reject) => {
      const done = (error?: unknown) => {
        clearTimeout(timer);
        conn.off("ready", onReady);
        if (error) reject(error);
        else resolve();
      };
      const onReady = () => done();
      const timer = setTimeout(() => done(this.unavailable(new Error(`not connected (${conn.status})`))), READY_WAIT_MS);
      conn.on("ready", onReady);
    });
  }

  /** An idle connection for blocking pops that is ready now, without waiting a turn; undefined when none is. */
  takeIdle(): Redis | undefined {
    const conn = this.#idle.at(-1);
    if (conn?.status !== "ready") return undefined;
    return this.#idle.pop();
  }

  /** A connection for blocking pops, ready to use. */
  async acquireBlocking(): Promise<Redis> {
    const conn = this.#idle.pop() ?? this.#connect(BLOCKING_TIMEOUT_MS);
    if (conn.status === "ready") return conn;
    try {
      await this.ready(conn);
    } catch (error) {
      this.releaseBlocking(conn);
      throw error;
    }
    return conn;
  }

  releaseBlocking(conn: Redis): void {
    if (this.#closed || this.#idle.length >= MAX_IDLE_BLOCKING || !this.#all.has(conn)) {
      this.#all.delete(conn);
      conn.disconnect();
    } else {
      this.#idle.push(conn);
    }
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#watchdog);
    for (const conn of this.#all.keys()) conn.disconnect();
    this.#all.clear();
    this.#idle.length = 0;
  }
}

/** The URL without its user and password, for messages and logs. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}

/**
 * ioredis options for a URL: rediss:// gets TLS with the given CA (ioredis alone would use the
 * system CAs only); redis:// ignores them, so one setting can serve a mixed list.
 */
export function tlsOptionsFor(url: string, tls: RedisTlsOptions): RedisOptions {
  if (!url.startsWith("rediss://")) return {};
  const settings = Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined));
  return { tls: settings };
}
