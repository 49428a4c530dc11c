// The gateway over the real RPC client: what a full or silent bus becomes at the HTTP edge.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createInMemoryChannelLayer, createInMemoryFirehose } from "@boxoffice/bus";
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
