// Every ioredis client needs an "error" listener: without one ioredis prints "Unhandled error
// event" on every failed reconnect (hundreds of lines in an outage). This one logs the state
// change once — "unavailable" when the connection is lost, "connected again" when it is back —
// and stays quiet between; the errors themselves surface through the commands that fail.
import type { Redis } from "ioredis";

export interface RedisStateLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export function logRedisStateChanges(client: Redis, options: { name: string; logger?: RedisStateLogger }): void {
  let down = false;
  client.on("error", (error: Error) => {
    if (down) return;
    down = true;
    options.logger?.warn({ redis: options.name, err: error.message }, `Redis (${options.name}) unavailable; reconnecting in the background`);
  });
  client.on("ready", () => {
    if (!down) return;
    down = false;
    options.logger?.info({ redis: options.name }, `Redis (${options.name}) connected again`);
  });
}
