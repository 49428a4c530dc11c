// One Redis connection that fails fast: while Redis is down every command rejects at once with
// BusUnavailableError (no offline queue that would make callers hang), and ioredis keeps
// reconnecting in the background so that loops resume by themselves.
import { Redis } from "ioredis";
import { BusUnavailableError } from "../channel-layer/errors.ts";
import { redactRedisUrl, tlsOptionsFor } from "../channel-layer/redis-connections.ts";
import type { RedisTlsOptions } from "../channel-layer/types.ts";

const CONNECT_TIMEOUT_MS = 2000;

export interface FailFastRedis {
  readonly client: Redis;
  /** Runs `command` when connected; connection problems become BusUnavailableError. */
  run<T>(command: (client: Redis) => Promise<T>): Promise<T>;
  /** A second connection with the same behaviour, for blocking reads. */
  duplicate(): FailFastRedis;
  close(): void;
}

function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === "ReplyError";
}

export function connectFailFast(url: string, tls: RedisTlsOptions = {}): FailFastRedis {
  // Messages name the host, never the password in the URL.
  const where = redactRedisUrl(url);
  const client = new Redis(url, {
    ...tlsOptionsFor(url, tls),
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: (times) => Math.min(50 * times, 1000),
    // Commands issued in the same tick share one write: many concurrent publishers, few syscalls.
    enableAutoPipelining: true,
  });
  // Errors surface through commands; without a listener ioredis would print each reconnect failure.
  client.on("error", () => {});
  let closed = false;
  let firstConnect: Promise<void> | undefined = client.connect().catch(() => {});

  async function whenConnected(): Promise<void> {
    if (client.status === "ready") return;
    // Only the very first connection is waited for; after a loss, callers fail fast.
    if (firstConnect) {
      await firstConnect;
      firstConnect = undefined;
      if ((client.status as string) === "ready") return;
    }
    throw new BusUnavailableError(`Redis at ${where} is unavailable (${client.status})`);
  }

  return {
    client,
    async run(command) {
      if (closed) throw new BusUnavailableError("firehose connection is closed");
      await whenConnected();
      try {
        return await command(client);
      } catch (error) {
        if (isReplyError(error)) throw error;
        throw new BusUnavailableError(`Redis at ${where} failed: ${(error as Error).message}`, { cause: error });
      }
    },
    duplicate() {
      return connectFailFast(url, tls);
    },
    close() {
      closed = true;
      client.disconnect();
    },
  };
}
