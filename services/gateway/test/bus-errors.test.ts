// The gateway over the real RPC client: what a full or silent bus becomes at the HTTP edge.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createInMemoryChannelLayer, createInMemoryFirehose, createRpcServer } from "@boxoffice/bus";
import { inventoryHoldV1 } from "@boxoffice/contracts";
import { createBusBackend } from "../src/bus-backend.ts";
import { buildGateway, type Gateway } from "../src/app.ts";
import { loadGatewayConfig } from "../src/config.ts";
import { newSessionKey } from "./helpers.ts";

let gateway: Gateway | undefined;
const layer = createInMemoryChannelLayer({ channelCapacity: [["events.rpc", 1]] });
const firehose = createInMemoryFirehose();

afterEach(async () => {
  await gateway?.stop();
});
afterAll(async () => {
  await firehose.close();
  await layer.close();
});

describe("the gateway on a bus nobody serves", () => {
  it("when the events service's channel is full, the page is 503 BUSY with Retry-After; when nobody answers in time, 503 UNAVAILABLE with Retry-After", async () => {
    const config = loadGatewayConfig({ SESSION_KEYS: newSessionKey(), SERVE_WEB: "false", LOG_LEVEL: "silent", RPC_DEADLINE_MS: "300", BUSY_RETRY_AFTER_SECONDS: "3" });
    gateway = await buildGateway(config, { layer, firehose });
    // The first request fills the one-message channel and waits for its deadline; the second is shed.
    const first = gateway.app.inject({ method: "GET", url: "/api/events/1" });
    await new Promise((resolve) => setImmediate(resolve));
    const second = await gateway.app.inject({ method: "GET", url: "/api/events/2" });
    expect(second.statusCode).toBe(503);
    expect(second.json().error.code).toBe("BUSY");
    expect(second.headers["retry-after"]).toBe("3");
    const slow = await first;
    expect(slow.statusCode).toBe(503);
    expect(slow.json().error.code).toBe("UNAVAILABLE");
    expect(slow.headers["retry-after"]).toBe("3");
    const ready = await gateway.app.inject({ method: "GET", url: "/readyz" });
    expect(ready.statusCode).toBe(503);
    expect(ready.headers["retry-after"]).toBe("3");
  });
});

describe("checkout calls in a burst", () => {
  it("when inventory's channel is full, an admitted buyer's hold waits for room (and is served) instead of 503 BUSY; a page read is still BUSY at once", async () => {
    const busy = createInMemoryChannelLayer({ channelCapacity: [["inventory.rpc", 1], ["events.rpc", 1]] });
    // One handler at a time, 30 ms each: three holds at once overflow a one-message channel.
    const server = createRpcServer({ layer: busy, service: "inventory", concurrency: 1 }).handle(inventoryHoldV1, async (request) => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      return { hold: { id: "900", eventId: request.eventId, seats: [], totalCents: 0, expiresAt: new Date(Date.now() + 60_000).toISOString() } };
    });
    await server.start();
    const backend = createBusBackend({ layer: busy, deadlineMs: 3000 });
    try {
      const holds = await Promise.allSettled([1, 2, 3, 4].map(() => backend.hold("100", { quantity: 1 }, { token: "t" })));
      expect(holds.map((h) => h.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "fulfilled"]);
      // Nobody serves events: the first read fills its channel, the second is refused at once.
      const first = backend.getEventSchedule("1").catch((error: unknown) => error);
      const second = await backend.getEventSchedule("2").catch((error: unknown) => error);
      expect((second as { code?: string }).code).toBe("BUSY");
      expect(((await first) as { code?: string }).code).toBe("DEADLINE_EXCEEDED");
    } finally {
      await server.stop();
      await busy.close();
    }
  });
});

