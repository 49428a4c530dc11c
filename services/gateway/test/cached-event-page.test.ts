// The event page every buyer reads: once cached, the HTTP server answers it before fastify (see
// src/http-server.ts). That path exists only on a real socket, so these tests listen and use fetch;
// the same requests through inject() take fastify's route, which must answer alike.
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestGateway, sessionCookie, type TestGateway } from "./helpers.ts";

let t: TestGateway;
let base: string;
beforeEach(async () => {
  t = await createTestGateway({ HOST: "127.0.0.1", PORT: "0" });
  await t.gateway.app.listen({ host: "127.0.0.1", port: 0 });
  base = `http://127.0.0.1:${(t.gateway.app.server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await t.close();
});

async function metric(line: string): Promise<number> {
  const text = (await t.gateway.app.inject({ method: "GET", url: "/metrics" })).body;
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  return found === undefined ? 0 : Number(found.slice(line.length + 1));
}
const PAGE_LABELS = (status: number) => `{method="GET",route="/api/events/:eventId",status="${status}"}`;
/** Every answer of the event page route, early or through fastify. */
const answers = (status: number) => metric(`gateway_http_requests_total${PAGE_LABELS(status)}`);
/** Answers that went through fastify's route (only those are timed). */
const routedAnswers = (status: number) => metric(`gateway_http_request_duration_seconds_count${PAGE_LABELS(status)}`);

describe("the cached event page", () => {
  it("when buyers read an event page again, the cached bytes are served with the first answer's status, type, length and ETag, and the event is asked for once", async () => {
    const first = await fetch(`${base}/api/events/100`);
    const firstBody = await first.text();
    expect(first.status).toBe(200);
    const etag = first.headers.get("etag");
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    for (let i = 0; i < 3; i++) {
      const again = await fetch(`${base}/api/events/100`);
      expect(again.status).toBe(200);
      expect(again.headers.get("content-type")).toBe("application/json");
      expect(again.headers.get("content-length")).toBe(String(Buffer.byteLength(firstBody)));
      expect(again.headers.get("etag")).toBe(etag);
      expect(await again.text()).toBe(firstBody);
    }
    expect(JSON.parse(firstBody).event).toMatchObject({ id: "100", title: "Fake Festival", sections: [{ id: "101", available: 10 }] });
    expect(t.backend.calls.getEvent).toBe(1);
    // The three repeats never reached fastify, and are still counted.
    expect(await answers(200)).toBe(4);
    expect(await routedAnswers(200)).toBe(1);
    expect(await metric('gateway_catalogue_cache_lookups_total{result="hit"}')).toBe(3);
  });

  it("when the client already holds the page (If-None-Match), the answer is 304 with the ETag and no body, from the cache and from fastify's route alike", async () => {
    const etag = (await fetch(`${base}/api/events/100`)).headers.get("etag") ?? "";
    for (const ifNoneMatch of [etag, `W/${etag}`, `"something-else", ${etag}`, "*"]) {
      const cached = await fetch(`${base}/api/events/100`, { headers: { "if-none-match": ifNoneMatch } });
      expect(cached.status).toBe(304);
      expect(cached.headers.get("etag")).toBe(etag);
      expect(await cached.text()).toBe("");
      const routed = await t.gateway.app.inject({ method: "GET", url: "/api/events/100", headers: { "if-none-match": ifNoneMatch } });
      expect(routed.statusCode).toBe(304);
      expect(routed.headers.etag).toBe(etag);
      expect(routed.body).toBe("");
    }
    expect(await answers(304)).toBe(8);
    expect(await routedAnswers(304)).toBe(4);
    const stale = await fetch(`${base}/api/events/100`, { headers: { "if-none-match": '"an-older-page"' } });
    expect(stale.status).toBe(200);
    expect(stale.headers.get("etag")).toBe(etag);
  });

  it("when the event changes, its page gets a new ETag and a client holding the old one gets the new page", async () => {
    const old = (await fetch(`${base}/api/events/100`)).headers.get("etag") ?? "";
    t.backend.events.set("100", { ...t.backend.events.get("100")!, title: "Fake Festival, moved" });
    t.gateway.context.cache.invalidate("event:100");
    const changed = await fetch(`${base}/api/events/100`, { headers: { "if-none-match": old } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("etag")).not.toBe(old);
    expect((await changed.json()).event.title).toBe("Fake Festival, moved");
  });

  it("when a signed-in buyer reads a cached page, the bytes are the anonymous reader's and the session cookie is neither read nor re-set", async () => {
    const anonymous = await (await fetch(`${base}/api/events/100`)).text();
    const signIn = await t.gateway.app.inject({ method: "POST", url: "/api/session", payload: { email: "organizer@boxoffice.test", password: "organizer-password" } });
    const cookie = sessionCookie(signIn);
    const signedIn = await fetch(`${base}/api/events/100`, { headers: { cookie } });
    expect(signedIn.status).toBe(200);
    expect(signedIn.headers.get("set-cookie")).toBeNull();
    expect(await signedIn.text()).toBe(anonymous);
    // A cookie that cannot be decrypted changes nothing on a public page either.
    const garbled = await fetch(`${base}/api/events/100`, { headers: { cookie: "boxoffice_session=not-a-session" } });
    expect(garbled.status).toBe(200);
    expect(await garbled.text()).toBe(anonymous);
    // The session still works where it matters.
    expect((await fetch(`${base}/api/me`, { headers: { cookie } })).status).toBe(200);
  });

  it("when a request is not exactly a cached page (unknown event, query string, trailing slash, HEAD), it goes the ordinary way with the API's answers", async () => {
    const page = await (await fetch(`${base}/api/events/100`)).text();
    const unknown = await fetch(`${base}/api/events/999`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: "NOT_FOUND", message: expect.any(String) } });
    const malformed = await fetch(`${base}/api/events/not-an-id`);
    expect(malformed.status).toBe(404);
    expect((await malformed.json()).error.code).toBe("NOT_FOUND");
    for (const url of ["/api/events/100?utm=mail", "/api/events/100/"]) {
      const routed = await fetch(`${base}${url}`);
      expect(routed.status).toBe(200);
      expect(await routed.text()).toBe(page);
    }
    const head = await fetch(`${base}/api/events/100`, { method: "HEAD" });
    expect(head.status).toBe(200);
    // Every one of them went through fastify's route.
    expect(await answers(200)).toBe(await routedAnswers(200));
  });
});
