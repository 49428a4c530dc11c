// Which X-Forwarded-For entries the gateway believes: only those its configured proxies added. A
// client that sends its own X-Forwarded-For cannot pick the address sign-in limits count.
import { describe, expect, it } from "vitest";
import { loadGatewayConfig } from "../src/config.ts";
import { createTestGateway, newSessionKey } from "./helpers.ts";

describe("proxy trust", () => {
  it("when one proxy is trusted and a client rotates a forged X-Forwarded-For, its failed sign-ins still count against its real address", async () => {
    const t = await createTestGateway({ TRUST_PROXY: "1", SIGN_IN_MAX_FAILURES: "3" });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        // The load balancer appends the address it saw (10.0.0.7); the first entry is the client's invention.
        const response = await t.gateway.app.inject({
          method: "POST",
          url: "/api/session",
          headers: { "x-forwarded-for": `203.0.113.${i}, 10.0.0.7` },
          payload: { email: "organizer@boxoffice.test", password: "wrong-password" },
        });
        statuses.push(response.statusCode);
      }
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
    } finally {
      await t.close();
    }
  });

  it("when the trusted proxies are listed by address, an entry added by an untrusted hop is the client", async () => {
    const t = await createTestGateway({ TRUST_PROXY: "127.0.0.1/32", SIGN_IN_MAX_FAILURES: "2" });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const response = await t.gateway.app.inject({
          method: "POST",
          url: "/api/session",
          headers: { "x-forwarded-for": `203.0.113.${i}, 198.51.100.9` },
          payload: { email: "organizer@boxoffice.test", password: "wrong-password" },
        });
        statuses.push(response.statusCode);
      }
      expect(statuses).toEqual([401, 401, 429]);
    } finally {
      await t.close();
    }
  });

  it("when TRUST_PROXY is \"true\" or not an address, the gateway refuses to start and says what to write", () => {
    expect(() => loadGatewayConfig({ SESSION_KEYS: newSessionKey(), TRUST_PROXY: "true" })).toThrow(/TRUST_PROXY: name how many proxies/);
    expect(() => loadGatewayConfig({ SESSION_KEYS: newSessionKey(), TRUST_PROXY: "lb.internal" })).toThrow(/TRUST_PROXY: expected "false", a hop count/);
    expect(loadGatewayConfig({ SESSION_KEYS: newSessionKey(), TRUST_PROXY: "10.0.0.0/8, 192.168.1.4" }).TRUST_PROXY).toBe("10.0.0.0/8,192.168.1.4");
    expect(loadGatewayConfig({ SESSION_KEYS: newSessionKey() }).TRUST_PROXY).toBe(false);
  });
});
