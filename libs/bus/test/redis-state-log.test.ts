import { Redis } from "ioredis";
import { describe, expect, it, vi } from "vitest";
import { waitFor } from "@boxoffice/testkit";
import { logRedisStateChanges } from "../src/index.ts";

describe("Redis client state log", () => {
  it("when Redis refuses connections for many retries, the client logs the outage once and ioredis prints no unhandled error events", async () => {
    const printed = vi.spyOn(console, "error").mockImplementation(() => {});
    const warns: string[] = [];
    let attempts = 0;
    // Nothing listens on port 1.
    const client = new Redis("redis://127.0.0.1:1", {
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => {
        attempts++;
        return 10;
      },
    });
    logRedisStateChanges(client, { name: "test", logger: { warn: (_o, msg) => warns.push(msg), info: () => {} } });
    await waitFor(() => attempts >= 10, { what: "ten reconnect attempts" });
    client.disconnect();
    const unhandledPrints = printed.mock.calls.filter((c) => String(c[0]).includes("Unhandled error event"));
    printed.mockRestore();
    expect(warns).toEqual(["Redis (test) unavailable; reconnecting in the background"]);
    expect(unhandledPrints).toEqual([]);
  });
});
