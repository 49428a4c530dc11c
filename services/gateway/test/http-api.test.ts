import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { waitFor } from "@boxoffice/testkit";
import { createTestGateway, newSessionKey, sessionCookie, type TestGateway } from "./helpers.ts";
import { createFakeBackend } from "./fake-backend.ts";

let t: TestGateway;
beforeEach(async () => {
  t = await createTestGateway();
});
afterEach(async () => {
  await t.close();
});

const json = { "content-type": "application/json" };

async function signIn(email = "organizer@boxoffice.test", password = "organizer-password"): Promise<string> {
  const response = await t.gateway.app.inject({ method: "POST", url: "/api/session", payload: { email, password } });
  expect(response.statusCode).toBe(200);
  return sessionCookie(response);
}

async function signUpAndIn(email = "buyer@example.test"): Promise<string> {
  const created = await t.gateway.app.inject({ method: "POST", url: "/api/users", payload: { email, password: "long-enough", displayName: "Buyer" } });
  expect(created.statusCode).toBe(201);
  return signIn(email, "long-enough");
}

describe("accounts and sessions", () => {
  it("when a buyer signs up, the account is a buyer and a second sign-up with the same email is EMAIL_TAKEN", async () => {
    const first = await t.gateway.app.inject({ method: "POST", url: "/api/users", payload: { email: "Ann@Example.test", password: "long-enough", displayName: "Ann" } });
    expect(first.statusCode).toBe(201);
    expect(first.json().user).toMatchObject({ email: "ann@example.test", role: "buyer" });
    const second = await t.gateway.app.inject({ method: "POST", url: "/api/users", payload: { email: "ann@example.test", password: "long-enough", displayName: "Ann" } });
    expect(second.statusCode).toBe(409);
    expect(second.json().error.code).toBe("EMAIL_TAKEN");
  });

  it("when the password is too short, sign-up is 400 VALIDATION_FAILED naming the password field", async () => {
    const response = await t.gateway.app.inject({ method: "POST", url: "/api/users", payload: { email: "a@example.test", password: "short", displayName: "A" } });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe("VALIDATION_FAILED");
    expect(JSON.stringify(response.json().error.details)).toContain("password");
  });

  it("when a user signs in, the session cookie is HttpOnly and SameSite=Lax, hides the token, and /api/me answers", async () => {
    const response = await t.gateway.app.inject({ method: "POST", url: "/api/session", payload: { email: "organizer@boxoffice.test", password: "organizer-password" } });
    expect(response.statusCode).toBe(200);
    const cookie = response.cookies.find((c) => c.name === "boxoffice_session");
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax", path: "/" });
    expect(cookie?.secure).toBeFalsy();
    // The fake refresh token lives two days, less than the session TTL: the cookie goes with it
    // (the identity token, an hour, is refreshed from it).
    expect(cookie?.maxAge).toBeGreaterThan(2 * 86_400 - 100);
    expect(cookie?.maxAge).toBeLessThanOrEqual(2 * 86_400);
    expect(decodeURIComponent(cookie?.value ?? "")).not.toContain("token-");
    expect(decodeURIComponent(cookie?.value ?? "")).not.toContain("refresh-");
    const me = await t.gateway.app.inject({ method: "GET", url: "/api/me", headers: { cookie: sessionCookie(response) } });
    expect(me.statusCode).toBe(200);
    expect(me.json().user.role).toBe("organizer");
  });

  it("when nobody is signed in, /api/me is 401 UNAUTHENTICATED", async () => {
    const me = await t.gateway.app.inject({ method: "GET", url: "/api/me" });
    expect(me.statusCode).toBe(401);
    expect(me.json().error.code).toBe("UNAUTHENTICATED");
  });

  it("when the password is wrong, sign-in is 401 and after repeated failures 429 RATE_LIMITED (this instance's backstop of 20)", async () => {
    const attempt = () => t.gateway.app.inject({ method: "POST", url: "/api/session", payload: { email: "organizer@boxoffice.test", password: "wrong-password" } });
    const first = await attempt();
    expect(first.statusCode).toBe(401);
    expect(first.json().error.code).toBe("INVALID_CREDENTIALS");
    for (let i = 0; i < 19; i++) await attempt();
    const blocked = await attempt();
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json().error.code).toBe("RATE_LIMITED");
  });

  it("when a user signs out, the cookie is cleared and the old cookie still signs nobody in after deletion", async () => {
    const cookie = await signIn();
    const out = await t.gateway.app.inject({ method: "DELETE", url: "/api/session", headers: { cookie } });
    expect(out.statusCode).toBe(204);
    const cleared = out.cookies.find((c) => c.name === "boxoffice_session");
    expect(cleared?.value).toBe("");
  });

  it("when behind TLS with a trusted proxy, the cookie is Secure", async () => {
    const behindTls = await createTestGateway({ TRUST_PROXY: "1" });
    try {
      const response = await behindTls.gateway.app.inject({
        method: "POST", url: "/api/session", headers: { "x-forwarded-proto": "https" },
        payload: { email: "organizer@boxoffice.test", password: "organizer-password" },
      });
      expect(response.cookies.find((c) => c.name === "boxoffice_session")?.secure).toBe(true);
    } finally {
      await behindTls.close();
    }
  });

  it("when the session keys rotate, a cookie from the old key still works while that key is listed, and not after", async () => {
    const oldKey = newSessionKey();
    const newKey = newSessionKey();
    const backend = createFakeBackend();
    const before = await createTestGateway({ SESSION_KEYS: oldKey }, backend);
    const response = await before.gateway.app.inject({ method: "POST", url: "/api/session", payload: { email: "organizer@boxoffice.test", password: "organizer-password" } });
    const cookie = sessionCookie(response);
    await before.close();
    const rotating = await createTestGateway({ SESSION_KEYS: `${newKey},${oldKey}` }, backend);
    const after = await createTestGateway({ SESSION_KEYS: newKey }, backend);
    try {
      expect((await rotating.gateway.app.inject({ method: "GET", url: "/api/me", headers: { cookie } })).statusCode).toBe(200);
      expect((await after.gateway.app.inject({ method: "GET", url: "/api/me", headers: { cookie } })).statusCode).toBe(401);
    } finally {
      await rotating.close();
      await after.close();
    }
  });
});

describe("cross-site requests", () => {
  it("when a state-changing request carries another site's Origin, it is 403 CSRF_REJECTED", async () => {
    const response = await t.gateway.app.inject({
      method: "POST", url: "/api/session", headers: { origin: "https://evil.example" },
      payload: { email: "organizer@boxoffice.test", password: "organizer-password" },
    });
    expect(response.statusCode).toBe(403);
    expect(response.json().error.code).toBe("CSRF_REJECTED");
  });

  it("when the Origin is the gateway's own, or absent, the request goes through", async () => {
    const same = await t.gateway.app.inject({
      method: "POST", url: "/api/session", headers: { origin: "http://localhost:80", host: "localhost:80" },
      payload: { email: "organizer@boxoffice.test", password: "organizer-password" },
    });
    expect(same.statusCode).toBe(200);
    const none = await t.gateway.app.inject({ method: "POST", url: "/api/session", payload: { email: "organizer@boxoffice.test", password: "organizer-password" } });
    expect(none.statusCode).toBe(200);
  });
});

describe("bad input never makes a 500", () => {
  it("when the body is malformed JSON, the answer is 400 VALIDATION_FAILED", async () => {
    const response = await t.gateway.app.inject({ method: "POST", url: "/api/users", headers: json, payload: "{\"email\": " });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe("VALIDATION_FAILED");
  });

  it("when fields have the wrong types, the details name each field", async () => {
    const response = await t.gateway.app.inject({ method: "POST", url: "/api/users", payload: { email: 42, password: ["x"], displayName: null } });
    expect(response.statusCode).toBe(400);
    const paths = (response.json().error.details.fields as Array<{ path: string }>).map((f) => f.path).join(" ");
    expect(paths).toContain("email");
    expect(paths).toContain("password");
    expect(paths).toContain("displayName");
  });

  it("when the quantity is outside 1..8 or not a number, holding is 400", async () => {
    const cookie = await signUpAndIn();
    for (const payload of [{ quantity: 9 }, { quantity: 0 }, { quantity: "two" }, {}]) {
      const response = await t.gateway.app.inject({ method: "POST", url: "/api/events/100/holds", headers: { cookie }, payload });
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      expect(response.json().error.code).toBe("VALIDATION_FAILED");
    }
  });

  it("when the body is larger than the limit, the answer is 413", async () => {
    const response = await t.gateway.app.inject({ method: "POST", url: "/api/users", headers: json, payload: JSON.stringify({ email: "a@b.test", password: "x".repeat(70_000), displayName: "A" }) });
    expect(response.statusCode).toBe(413);
    expect(response.json().error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("when the list cursor is not one the service issued, the answer is 400", async () => {
    const response = await t.gateway.app.inject({ method: "GET", url: "/api/events?cursor=garbage" });
    expect(response.statusCode).toBe(400);
    const limit = await t.gateway.app.inject({ method: "GET", url: "/api/events?limit=abc" });
    expect(limit.statusCode).toBe(400);
  });

  it("when an event id cannot be an id at all, its page and seats are 404 without asking the services", async () => {
    for (const url of ["/api/events/not-an-id", "/api/events/99999999999999999999", "/api/events/abc/seats"]) {
      const response = await t.gateway.app.inject({ method: "GET", url });
      expect(response.statusCode, url).toBe(404);
      expect(response.json().error.code).toBe("NOT_FOUND");
    }
    expect(t.backend.calls.getEvent ?? 0).toBe(0);
  });

  it("when an unknown route is asked for, the answer is a 404 in the error shape", async () => {
    const response = await t.gateway.app.inject({ method: "GET", url: "/api/nothing-here" });
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe("NOT_FOUND");
  });
});

describe("buying", () => {
  it("when a buyer holds seats and orders with a test card, the order is confirmed with tickets, and replaying the key returns the same order", async () => {
    const cookie = await signUpAndIn();
    const hold = await t.gateway.app.inject({ method: "POST", url: "/api/events/100/holds", headers: { cookie }, payload: { quantity: 2 } });
    expect(hold.statusCode).toBe(201);
    const holdId = hold.json().hold.id;
    const body = { holdId, payment: { cardNumber: "4242424242424242", expMonth: 12, expYear: 2030, cvc: "123" } };
    const order = await t.gateway.app.inject({ method: "POST", url: "/api/orders", headers: { cookie, "idempotency-key": "k1" }, payload: body });
    expect(order.statusCode).toBe(201);
    expect(order.json().order.tickets).toHaveLength(2);
    const replay = await t.gateway.app.inject({ method: "POST", url: "/api/orders", headers: { cookie, "idempotency-key": "k1" }, payload: body });
    expect(replay.statusCode).toBe(201);
    expect(replay.json()).toEqual(order.json());
    const mine = await t.gateway.app.inject({ method: "GET", url: "/api/orders", headers: { cookie } });
    expect(mine.json().orders).toHaveLength(1);
  });

  it("when the Idempotency-Key header is missing, ordering is 400", async () => {
    const cookie = await signUpAndIn();
    const response = await t.gateway.app.inject({
      method: "POST", url: "/api/orders", headers: { cookie },
      payload: { holdId: "1", payment: { cardNumber: "4242424242424242", expMonth: 12, expYear: 2030, cvc: "123" } },
    });
    expect(response.statusCode).toBe(400);
    expect(JSON.stringify(response.json().error.details)).toContain("idempotency-key");
  });

  it("when the card is declined, the answer is 402 PAYMENT_DECLINED", async () => {
    const cookie = await signUpAndIn();
    const hold = await t.gateway.app.inject({ method: "POST", url: "/api/events/100/holds", headers: { cookie }, payload: { quantity: 1 } });
    const response = await t.gateway.app.inject({
      method: "POST", url: "/api/orders", headers: { cookie, "idempotency-key": "k2" },
      payload: { holdId: hold.json().hold.id, payment: { cardNumber: "4000000000000002", expMonth: 12, expYear: 2030, cvc: "123" } },
    });
    expect(response.statusCode).toBe(402);
    expect(response.json().error.code).toBe("PAYMENT_DECLINED");
  });

  it("when not signed in, holding is 401", async () => {
    const response = await t.gateway.app.inject({ method: "POST", url: "/api/events/100/holds", payload: { quantity: 1 } });
    expect(response.statusCode).toBe(401);
  });

  it("when more seats are asked for than are left, the answer is 409 SOLD_OUT", async () => {
    const cookie = await signUpAndIn();
    await t.gateway.app.inject({ method: "POST", url: "/api/events/100/holds", headers: { cookie }, payload: { quantity: 8 } });
    const response = await t.gateway.app.inject({ method: "POST", url: "/api/events/100/holds", headers: { cookie }, payload: { quantity: 3 } });
    expect(response.statusCode).toBe(409);
    expect(response.json().error.code).toBe("SOLD_OUT");
  });
});

describe("organisers", () => {
  const newEvent = { title: "Gala", venue: "Hall", startsAt: "2031-05-01T19:00:00Z", sections: [{ name: "Floor", rows: 2, seatsPerRow: 5, priceCents: 1000 }] };

  it("when an organiser creates an event, it is 201 and on sale; a buyer gets 403 FORBIDDEN; nobody gets 401", async () => {
    const organizer = await signIn();
    const created = await t.gateway.app.inject({ method: "POST", url: "/api/events", headers: { cookie: organizer }, payload: newEvent });
    expect(created.statusCode).toBe(201);
    expect(created.json().event.status).toBe("on_sale");
    const buyer = await signUpAndIn();
    const refused = await t.gateway.app.inject({ method: "POST", url: "/api/events", headers: { cookie: buyer }, payload: newEvent });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe("FORBIDDEN");
    expect((await t.gateway.app.inject({ method: "POST", url: "/api/events", payload: newEvent })).statusCode).toBe(401);
  });

  it("when the sections add up to more than 100,000 seats, creation is 400", async () => {
    const organizer = await signIn();
    const response = await t.gateway.app.inject({
      method: "POST", url: "/api/events", headers: { cookie: organizer },
      payload: { ...newEvent, sections: [{ name: "Huge", rows: 1000, seatsPerRow: 101, priceCents: 1 }] },
    });
    expect(response.statusCode).toBe(400);
  });
});

describe("the catalogue cache", () => {
  it("when a hundred requests for one event page miss the cache at once, the events service is asked once", async () => {
    const release = t.backend.holdGetEvent();
    const pending = Array.from({ length: 100 }, () => t.gateway.app.inject({ method: "GET", url: "/api/events/100" }));
    await waitFor(() => t.backend.calls.getEvent === 1, { what: "the first bus call" });
    release();
    const responses = await Promise.all(pending);
    expect(responses.every((r) => r.statusCode === 200)).toBe(true);
    expect(responses[99].json().event.title).toBe("Fake Festival");
    expect(t.backend.calls.getEvent).toBe(1);
  });

  it("when the firehose says an event changed, the next page view asks the service again", async () => {
    await t.gateway.app.inject({ method: "GET", url: "/api/events/100" });
    await t.gateway.app.inject({ method: "GET", url: "/api/events/100" });
    expect(t.backend.calls.getEvent).toBe(1);
    t.backend.events.get("100")!.title = "Renamed Festival";
    await t.firehose.publish("events", { type: "event.updated.v1", version: 1, key: "100", data: { id: "100" } });
    const page = await waitFor(async () => {
      const response = await t.gateway.app.inject({ method: "GET", url: "/api/events/100" });
      return response.json().event.title === "Renamed Festival" ? response : undefined;
    }, { what: "the renamed event" });
    expect(page.statusCode).toBe(200);
  });

  it("when an event does not exist, its page is 404 NOT_FOUND and the miss is not cached", async () => {
    const response = await t.gateway.app.inject({ method: "GET", url: "/api/events/999" });
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe("NOT_FOUND");
    await t.gateway.app.inject({ method: "GET", url: "/api/events/999" });
    expect(t.backend.calls.getEvent).toBe(2);
  });
});

describe("load shedding and failures of the bus", () => {
  it("when the bus is full (BUSY), the answer is 503 with Retry-After", async () => {
    t.backend.failWith("listEvents", "BUSY");
    const response = await t.gateway.app.inject({ method: "GET", url: "/api/events" });
    expect(response.statusCode).toBe(503);
    expect(response.json().error.code).toBe("BUSY");
    expect(Number(response.headers["retry-after"])).toBeGreaterThan(0);
  });

  it("when a service is unavailable or too slow, both answers are 503 UNAVAILABLE with Retry-After (never 504)", async () => {
    t.backend.failWith("getEvent", "UNAVAILABLE");
    const away = await t.gateway.app.inject({ method: "GET", url: "/api/events/100" });
    expect(away.statusCode).toBe(503);
    expect(Number(away.headers["retry-after"])).toBeGreaterThan(0);
    t.backend.failWith("getEvent", "DEADLINE_EXCEEDED");
    const slow = await t.gateway.app.inject({ method: "GET", url: "/api/events/100" });
    expect(slow.statusCode).toBe(503);
    expect(slow.json().error.code).toBe("UNAVAILABLE");
    expect(Number(slow.headers["retry-after"])).toBeGreaterThan(0);
  });

  it("when a service fails unexpectedly, the answer is 500 INTERNAL without the service's message", async () => {
    t.backend.failWith("getEvent", "INTERNAL");
    const response = await t.gateway.app.inject({ method: "GET", url: "/api/events/100" });
    expect(response.statusCode).toBe(500);
    expect(response.json().error.message).not.toContain("fake");
  });
});

describe("operations", () => {
  it("health, readiness, metrics and the OpenAPI document answer", async () => {
    expect((await t.gateway.app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    const ready = await t.gateway.app.inject({ method: "GET", url: "/readyz" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json().services).toMatchObject({ users: true, events: true, inventory: true, payments: true });
    await t.gateway.app.inject({ method: "GET", url: "/api/events/100" });
    await t.gateway.app.inject({ method: "GET", url: "/api/events/100" });
    const metrics = await t.gateway.app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.body).toContain('gateway_http_requests_total{method="GET",route="/api/events/:eventId",status="200"} 2');
    expect(metrics.body).toContain('gateway_catalogue_cache_lookups_total{result="hit"} 1');
    const docs = await t.gateway.app.inject({ method: "GET", url: "/docs/json" });
    expect(docs.statusCode).toBe(200);
    const paths = Object.keys(docs.json().paths);
    for (const path of ["/api/users", "/api/session", "/api/me", "/api/events", "/api/events/{eventId}", "/api/events/{eventId}/seats", "/api/events/{eventId}/holds", "/api/holds/{holdId}", "/api/orders", "/api/orders/{orderId}"]) {
      expect(paths).toContain(path);
    }
    expect((await t.gateway.app.inject({ method: "GET", url: "/docs" })).statusCode).toBeLessThan(400);
  });

  it("when one service reports a problem (say a shard is down), the gateway stays ready and says the site is degraded", async () => {
    t.backend.unhealthy.add("payments");
    try {
      const ready = await t.gateway.app.inject({ method: "GET", url: "/readyz" });
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toMatchObject({ status: "degraded", services: { payments: false, events: true } });
    } finally {
      t.backend.unhealthy.clear();
    }
  });

  it("when no service answers its health method, readiness is 503", async () => {
    t.backend.failWith("health", "UNAVAILABLE");
    expect((await t.gateway.app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(503);
  });
});
