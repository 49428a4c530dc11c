// One entry point that picks the backend from a URL, so services differ by configuration only.
import { InvalidOptionError } from "./errors.ts";
import { createInMemoryChannelLayer } from "./in-memory-channel-layer.ts";
import { createRedisChannelLayer } from "./redis-channel-layer.ts";
import { redactRedisUrl } from "./redis-connections.ts";
import type { ChannelLayer, ChannelLayerOptions } from "./types.ts";

/**
 * "memory://" → in-memory; "redis://h1:6379/0,redis://h2:6379/0" → Redis, one host per URL.
 * URLs may carry credentials (redis://user:password@host) and TLS (rediss://, CA in `options.tls`).
 */
export function createChannelLayer(url: string, options: ChannelLayerOptions = {}): ChannelLayer {
  if (typeof url !== "string") throw new InvalidOptionError("url", "must be a string");
  const trimmed = url.trim();
  if (trimmed === "memory://" || trimmed === "memory:") return createInMemoryChannelLayer(options);
  if (/^rediss?:\/\//.test(trimmed)) {
    return createRedisChannelLayer({ ...options, hosts: trimmed.split(",").map((h) => h.trim()).filter(Boolean) });
  }
  throw new InvalidOptionError("url", `expected "memory://" or comma-separated redis:// or rediss:// URLs, got ${JSON.stringify(redactRedisUrl(url))}`);
}
