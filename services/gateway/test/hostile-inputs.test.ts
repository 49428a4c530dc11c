// Hostile inputs: every answer is the API's error shape {error:{code,message,details}} with the
// right status, never a 500 and never fastify's or Node's own body. Through inject() for what the
// router sees, and over a real socket for what only a real client meets (a body over the limit
// while it is still being sent, a request Node's HTTP parser refuses).
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestGateway, sessionCookie, type TestGateway } from "./helpers.ts";

const BIG = 2 * 1024 * 1024;
let t: TestGateway;
let base: string;
beforeAll(async () => {
  t = await createTestGateway({ HOST: "127.0.0.1", PORT: "0" });
  await t.gateway.app.listen({ host: "127.0.0.1", port: 0 });
  base = `http://127.0.0.1:${(t.gateway.app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await t.close();
});

function expectErrorShape(body: unknown, code: string): void {
  expect(body).toMatchObject({ error: { code, message: expect.any(String) } });
  expect(Object.keys(body as object)).toEqual(["error"]);
}

async function organiserCookie(): Promise<string> {
  const response = await t.gateway.app.inject({ method: "POST", url: "/api/session", payload: { email: "organizer@boxoffice.test", password: "organizer-password" } });
  return sessionCookie(response);
}

describe("hostile inputs", () => {
  it("when a section name holds a NUL character, the event is refused with 400 naming the field before anything reaches a store", async () => {
    const cookie = await organiserCookie();
    const before = (await t.gateway.app.inject({ method: "GET", url: "/api/events" })).json().events.length;
    const response = await t.gateway.app.inject({
      method: "POST",
      url: "/api/events",
      headers: { cookie },
      payload: { title: "Nul", venue: "Hall", startsAt: "2031-01-01T20:00:00Z", sections: [{ name: "Stalls\u0000", rows: 1, seatsPerRow: 1, priceCents: 100 }] },
    });
    expect(response.statusCode).toBe(400);
    expectErrorShape(response.json(), "VALIDATION_FAILED");
    expect(response.json().error.details.fields.map((f: { path: string }) => f.path)).toEqual(["body.sections.0.name"]);
    t.gateway.context.cache.invalidate("events:");
    expect((await t.gateway.app.inject({ method: "GET", url: "/api/events" })).json().events).toHaveLength(before);
  });

  it("when a string holds a lone surrogate (in the body, the query or the path), the answer is 400 VALIDATION_FAILED", async () => {
    const body = await t.gateway.app.inject({ method: "POST", url: "/api/users", headers: { "content-type": "application/json" }, payload: '{"email":"a@b.test","password":"long-enough","displayName":"\\ud800x"}' });
    expect(body.statusCode).toBe(400);
    expect(body.json().error.details.fields).toEqual([{ path: "body.displayName", message: expect.any(String) }]);
    const query = await t.gateway.app.inject({ method: "GET", url: "/api/events?cursor=%00" });
    expect(query.statusCode).toBe(400);
    expectErrorShape(query.json(), "VALIDATION_FAILED");
    const path = await t.gateway.app.inject({ method: "GET", url: "/api/events/1%00" });
    expect(path.statusCode).toBe(400);
    expectErrorShape(path.json(), "VALIDATION_FAILED");
  });

  it("when the path has malformed percent-encoding, an over-long parameter or names no route, the router's answer has the API's shape", async () => {
    for (const url of ["/api/events/%ED%A0%80", "/api/events/%u0041", "/api/events/%C0%AF"]) {
      const response = await t.gateway.app.inject({ method: "GET", url });
      expect(response.statusCode, url).toBe(400);
      expectErrorShape(response.json(), "VALIDATION_FAILED");
    }
    const long = await t.gateway.app.inject({ method: "GET", url: `/api/events/${"1".repeat(10_000)}` });
    expect(long.statusCode).toBe(414);
    expectErrorShape(long.json(), "URI_TOO_LONG");
    const unknown = await t.gateway.app.inject({ method: "GET", url: "/api/no-such-thing" });
    expect(unknown.statusCode).toBe(404);
    expectErrorShape(unknown.json(), "NOT_FOUND");
  });

  it("when the live address is fetched without a WebSocket upgrade, the answer is 426 in the API's shape (400 for a bad id), not a bare 404", async () => {
    const plain = await t.gateway.app.inject({ method: "GET", url: "/api/events/100/live" });
    expect(plain.statusCode).toBe(426);
    expectErrorShape(plain.json(), "UPGRADE_REQUIRED");
    const bad = await t.gateway.app.inject({ method: "GET", url: "/api/events/abc/live" });
    expect([400, 426]).toContain(bad.statusCode);
    expect(bad.headers["content-type"]).toMatch(/application\/json/);
    expect(bad.json().error.code).toMatch(/VALIDATION_FAILED|UPGRADE_REQUIRED/);
  });

  it("when a client sends a 2 MB JSON body, it reads a 413 PAYLOAD_TOO_LARGE instead of a broken pipe", async () => {
    const payload = JSON.stringify({ email: "a@b.test", password: "x".repeat(BIG), displayName: "A" });
    const response = await fetch(`${base}/api/users`, { method: "POST", headers: { "content-type": "application/json" }, body: payload });
    expect(response.status).toBe(413);
    expectErrorShape(await response.json(), "PAYLOAD_TOO_LARGE");
  });

  it("when Node's HTTP parser cannot read the request, the raw answer is still the API's error shape", async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port: Number(new URL(base).port) });
      let data = "";
      socket.on("data", (chunk) => (data += chunk.toString()));
      socket.on("close", () => resolve(data));
      socket.on("error", reject);
      // A space inside the request target is not HTTP.
      socket.write("GET /api/events?userId[$ne]= x HTTP/1.1\r\nHost: x\r\n\r\n");
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expectErrorShape(JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4)), "VALIDATION_FAILED");
  });
});
