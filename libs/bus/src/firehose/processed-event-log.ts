// For consumers without a database of their own: remembers which event ids were handled, for a
// while, so that a redelivered event can be recognised and skipped. Consumers with a database
// record processed ids in the same transaction as their effect instead (that survives any crash).
import { FirehoseInputError } from "./errors.ts";
import { redactRedisUrl } from "../channel-layer/redis-connections.ts";
import type { RedisTlsOptions } from "../channel-layer/types.ts";
import { connectFailFast } from "./redis-connection.ts";

export interface ProcessedEventLog {
  /** True when `eventId` was recorded and has not expired. */
  has(eventId: string): Promise<boolean>;
  /** Records `eventId` after its effect happened; true when it was not recorded before. */
  add(eventId: string): Promise<boolean>;
  close(): Promise<void>;
}

export interface ProcessedEventLogOptions {
  /** How long an id is remembered; longer than the longest redelivery delay. Default 86400. */
  ttlSeconds?: number;
  /** Key prefix in Redis; one per consumer group. Default "processed". */
  prefix?: string;
  /** TLS settings for a rediss:// URL (a private CA). */
  tls?: RedisTlsOptions;
}

export const DEFAULT_PROCESSED_EVENT_LOG_OPTIONS = { ttlSeconds: 86_400, prefix: "processed", tls: {} } satisfies Required<ProcessedEventLogOptions>;

function checkId(eventId: unknown): string {
  if (typeof eventId !== "string" || eventId.length === 0) throw new FirehoseInputError("eventId", "expected a non-empty string");
  return eventId;
}

/** "memory://" keeps ids in this process; a redis:// URL keeps them in Redis (SET NX EX). */
export function createProcessedEventLog(url: string, options: ProcessedEventLogOptions = {}): ProcessedEventLog {
  const ttlSeconds = options.ttlSeconds ?? DEFAULT_PROCESSED_EVENT_LOG_OPTIONS.ttlSeconds;
  const prefix = options.prefix ?? DEFAULT_PROCESSED_EVENT_LOG_OPTIONS.prefix;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) throw new FirehoseInputError("ttlSeconds", "expected a positive integer");
  if (url === "memory://" || url === "memory:") {
    const seen = new Map<string, number>();
    const live = (id: string) => {
      const until = seen.get(id);
      if (until === undefined) return false;
      if (until > Date.now()) return true;
      seen.delete(id);
      return false;
    };
    return {
      async has(eventId) {
        return live(checkId(eventId));
      },
      async add(eventId) {
        const id = checkId(eventId);
        const fresh = !live(id);
        seen.set(id, Date.now() + ttlSeconds * 1000);
        return fresh;
      },
      async close() {
        seen.clear();
      },
    };
  }
  if (typeof url !== "string" || !/^rediss?:\/\//.test(url)) {
    throw new FirehoseInputError("url", `expected "memory://" or a redis:// URL, got ${JSON.stringify(typeof url === "string" ? redactRedisUrl(url) : url)}`);
  }
  const redis = connectFailFast(url, options.tls);
  return {
    async has(eventId) {
      const id = checkId(eventId);
      return (await redis.run((client) => client.exists(`${prefix}:${id}`))) === 1;
    },
    async add(eventId) {
      const id = checkId(eventId);
      return (await redis.run((client) => client.set(`${prefix}:${id}`, "1", "EX", ttlSeconds, "NX"))) === "OK";
    },
    async close() {
      redis.close();
    },
  };
}
