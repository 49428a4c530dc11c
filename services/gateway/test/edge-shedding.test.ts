// Which bound a request counts against (src/edge-shedding.ts): the organiser's room controls are
// not counted with waiting buyers' polls, so a full room never sheds the organiser's pause. And the
// wait a trusted load balancer's X-Request-Start shows: measured, and shed past its bound.
import { describe, expect, it } from "vitest";
import { requestStartMs, routeClassOf } from "../src/edge-shedding.ts";
import { createTestGateway } from "./helpers.ts";

describe("edge shedding's route classes", () => {
  it("when buyers join, poll or leave a room, they count against the queue bound; the organiser's stats and controls do not", () => {
    expect(routeClassOf("POST", "/api/events/:eventId/queue")).toBe("queue");
    expect(routeClassOf("GET", "/api/events/:eventId/queue")).toBe("queue");
    expect(routeClassOf("DELETE", "/api/events/:eventId/queue")).toBe("queue");
    expect(routeClassOf("PATCH", "/api/events/:eventId/queue")).toBe("other");
    expect(routeClassOf("GET", "/api/events/:eventId/queue/stats")).toBe("other");
  });

  it("when a buyer holds or orders, it counts against the checkout bound; health and the UI are never shed", () => {
    expect(routeClassOf("POST", "/api/events/:eventId/holds")).toBe("checkout");
    expect(routeClassOf("POST", "/api/orders")).toBe("checkout");
    expect(routeClassOf("GET", "/api/orders")).toBe("other");
    expect(routeClassOf("GET", "/healthz")).toBeUndefined();
    expect(routeClassOf("GET", "/")).toBeUndefined();
  });
});

describe("X-Request-Start: how long a request waited before the gateway looked at it", () => {
  it("reads nginx's seconds, and milliseconds or microseconds, and nothing else", () => {
    const now = 1_765_000_000_000;
    expect(requestStartMs("t=1764999999.250", now)).toBe(1_764_999_999_250);
    expect(requestStartMs("t=1764999999250", now)).toBe(1_764_999_999_250);
    expect(requestStartMs("1764999999250000", now)).toBe(1_764_999_999_250);
    expect(requestStartMs(undefined, now)).toBeUndefined();
    expect(requestStartMs("t=soon", now)).toBeUndefined();
    expect(requestStartMs("t=1", now)).toBeUndefined(); // not within a day of now
    expect(requestStartMs(["t=1764999999.250", "t=1764999999.250"], now)).toBeUndefined();
  });

  it("behind a trusted balancer, a request that waited past REQUEST_QUEUE_MAX_MS is answered 503 BUSY with Retry-After at once, and every wait is measured", async () => {
    const t = await createTestGateway({ TRUST_PROXY: "1", REQUEST_QUEUE_MAX_MS: "2000" });
    try {
      const stamp = (agoMs: number) => ({ "x-request-start": `t=${((Date.now() - agoMs) / 1000).toFixed(3)}` });
      const stale = await t.gateway.app.inject({ method: "GET", url: "/api/events", headers: stamp(5000) });
      expect(stale.statusCode).toBe(503);
      expect(stale.json().error.code).toBe("BUSY");
      expect(Number(stale.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      const fresh = await t.gateway.app.inject({ method: "GET", url: "/api/events", headers: stamp(10) });
      expect(fresh.statusCode).toBe(200);
      // Health is never shed, however long it waited.
      expect((await t.gateway.app.inject({ method: "GET", url: "/healthz", headers: stamp(5000) })).statusCode).toBe(200);
      const metrics = (await t.gateway.app.inject({ method: "GET", url: "/metrics" })).body;
      expect(metrics).toMatch(/gateway_http_request_queue_seconds_count\{class="other"\} 2/);
      expect(metrics).toMatch(/gateway_http_request_queue_seconds_count\{class="none"\} 1/);
    } finally {
      await t.close();
    }
  });

  it("without a trusted balancer, the header is a client's and is ignored", async () => {
    const t = await createTestGateway({ REQUEST_QUEUE_MAX_MS: "2000" });
    try {
      const stale = await t.gateway.app.inject({ method: "GET", url: "/api/events", headers: { "x-request-start": `t=${((Date.now() - 60_000) / 1000).toFixed(3)}` } });
      expect(stale.statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });
});
