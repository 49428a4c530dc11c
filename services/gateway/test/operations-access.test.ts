// /metrics and /docs say a lot about the system (traffic, routes, schemas): a deployment can limit
// them to its own network (OPERATIONS_ALLOW) and turn /docs off (SERVE_DOCS).
import { describe, expect, it } from "vitest";
import { loadGatewayConfig } from "../src/config.ts";
import { createTestGateway, newSessionKey } from "./helpers.ts";

describe("operations endpoints", () => {
  it("when OPERATIONS_ALLOW lists the cluster network, a client outside it gets 404 for /metrics and /docs, one inside gets them", async () => {
    const t = await createTestGateway({ OPERATIONS_ALLOW: "10.0.0.0/8", TRUST_PROXY: "1" });
    try {
      const as = (address: string, url: string) => t.gateway.app.inject({ method: "GET", url, headers: { "x-forwarded-for": address } });
      for (const url of ["/metrics", "/docs", "/docs/json"]) {
        const outside = await as("203.0.113.5", url);
        expect(outside.statusCode, `${url} from outside`).toBe(404);
        expect(outside.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
      }
      expect((await as("10.1.2.3", "/metrics")).statusCode).toBe(200);
      expect((await as("10.1.2.3", "/docs/json")).statusCode).toBe(200);
      // The API itself is not affected.
      expect((await as("203.0.113.5", "/api/events")).statusCode).toBe(200);
      expect((await as("203.0.113.5", "/healthz")).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });

  it("when SERVE_DOCS is false, there is no /docs at all", async () => {
    const t = await createTestGateway({ SERVE_DOCS: "false" });
    try {
      expect((await t.gateway.app.inject({ method: "GET", url: "/docs" })).statusCode).toBe(404);
      expect((await t.gateway.app.inject({ method: "GET", url: "/metrics" })).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });

  it("when OPERATIONS_ALLOW is not addresses, the gateway refuses to start naming it", () => {
    expect(() => loadGatewayConfig({ SESSION_KEYS: newSessionKey(), OPERATIONS_ALLOW: "prometheus.local" })).toThrow(/OPERATIONS_ALLOW/);
  });
});
