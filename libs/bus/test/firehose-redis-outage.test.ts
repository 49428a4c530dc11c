// Redis going away must not need a restart of anyone: publishing fails fast while it is down, and
// consumers and subscribers carry on by themselves once it is back. This file runs its own private
// redis-server (never the shared one) so that it can stop and start it.
import { hasRedisServer as redisServerInstalled, REQUIRE_SERVICES, startPrivateRedis, waitFor, type PrivateRedis } from "@boxoffice/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { BusUnavailableError, createRedisFirehose } from "../src/index.ts";

const hasRedisServer = redisServerInstalled();
if (!hasRedisServer) {
  if (REQUIRE_SERVICES) throw new Error("REQUIRE_SERVICES=1 but redis-server is not installed (needed to stop and restart a private Redis)");
  console.warn("[skip] redis-server is not installed: the Redis outage test is skipped");
}

let redis: PrivateRedis | undefined;
afterAll(async () => {
  await redis?.stop();
});

describe.skipIf(!hasRedisServer)("firehose when Redis restarts", () => {
  it("when Redis goes down, publish fails fast; when it is back, consumers and subscribers resume by themselves", async () => {
    redis = await startPrivateRedis();
    const firehose = createRedisFirehose({ url: redis.url, prefix: "outage" });
    const consumed: number[] = [];
    const broadcast: number[] = [];
    const consumer = firehose.consume<number>("seats", { group: "g", consumer: "c", visibilityTimeoutMs: 500, onError: () => {} }, (event) => void consumed.push(event.data));
    const subscription = firehose.subscribe<number>("seats", { from: "latest", onError: () => {} }, (event) => void broadcast.push(event.data));
    await Promise.all([consumer.ready, subscription.ready]);
    await firehose.publish("seats", { type: "seat.sold.v1", version: 1, key: "k", data: 1 });
    await waitFor(() => consumed.includes(1) && broadcast.includes(1), { what: "the first event before the outage" });

    await redis.kill();
    await expect(firehose.publish("seats", { type: "seat.sold.v1", version: 1, key: "k", data: 2 })).rejects.toBeInstanceOf(BusUnavailableError);

    // A fresh Redis without persistence: the stream and the group are gone and must be re-made.
    await redis.restart();
    await waitFor(
      async () => {
        await firehose.publish("seats", { type: "seat.sold.v1", version: 1, key: "k", data: 3 });
        return true;
      },
      { what: "publish to work again", timeoutMs: 15_000, intervalMs: 200 },
    );
    await waitFor(() => consumed.includes(3) && broadcast.includes(3), { what: "consumer and subscriber to receive an event after the restart", timeoutMs: 15_000 });
    await firehose.close();
  }, 60_000);
});
