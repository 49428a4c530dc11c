// One entry point for configuration: FIREHOSE_URL picks the backend, nothing else changes.
import { FirehoseInputError } from "./errors.ts";
import { createInMemoryFirehose } from "./in-memory-firehose.ts";
import { createRedisFirehose } from "./redis-firehose.ts";
import type { Firehose, FirehoseOptions, RedisFirehoseOptions } from "./types.ts";
import { redactRedisUrl } from "../channel-layer/redis-connections.ts";

/** "memory://" → in-memory; "redis://[user:password@]host:6379/0" or "rediss://…" → Redis Streams. */
export function createFirehose(url: string, options: FirehoseOptions & Pick<RedisFirehoseOptions, "tls"> = {}): Firehose {
  if (url === "memory://" || url === "memory:") return createInMemoryFirehose(options);
  if (typeof url === "string" && /^rediss?:\/\//.test(url)) return createRedisFirehose({ ...options, url });
  throw new FirehoseInputError("url", `expected "memory://" or a redis:// URL, got ${JSON.stringify(typeof url === "string" ? redactRedisUrl(url) : url)}`);
}
