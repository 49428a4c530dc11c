// One entry point for configuration: FIREHOSE_URL picks the backend, nothing else changes.
import { FirehoseInputError } from "./errors.ts";
import { createInMemoryFirehose } from "./in-memory-firehose.ts";
import { createRedisFirehose } from "./redis-firehose.ts";
import type { Firehose, FirehoseOptions } from "./types.ts";

/** "memory://" → in-memory; "redis://host:6379/0" → Redis Streams. */
export function createFirehose(url: string, options: FirehoseOptions = {}): Firehose {
  if (url === "memory://" || url === "memory:") return createInMemoryFirehose(options);
  if (typeof url === "string" && /^rediss?:\/\//.test(url)) return createRedisFirehose({ ...options, url });
  throw new FirehoseInputError("url", `expected "memory://" or a redis:// URL, got ${JSON.stringify(url)}`);
}
