// Identity tokens are short-lived; the session keeps a refresh token and exchanges it before a call
// would carry a dead token, so a buyer is not signed out in the middle of a purchase.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestGateway, sessionCookie, type TestGateway } from "./helpers.ts";

let t: TestGateway;
beforeEach(async () => {
  t = await createTestGateway();
  await t.gateway.app.inject({ method: "POST", url: "/api/users", payload: { email: "rita@example.test", password: "long-enough", displayName: "Rita" } });
});
afterEach(async () => {
  await t.close();
});

async function signInWithTokenLifetime(ms: number): Promise<string> {
  t.backend.tokenLifetimeMs = ms;
  const response = await t.gateway.app.inject({ method: "POST", url: "/api/session", payload: { email: "rita@example.test", password: "long-enough" } });
  expect(response.statusCode).toBe(200);
  return sessionCookie(response);
}

describe("session refresh", () => {
  it("when the session's identity token has expired, the next call refreshes it transparently and re-sets the cookie", async () => {
    const cookie = await signInWithTokenLifetime(-1000);
    t.backend.tokenLifetimeMs = 3600_000;
    const hold = await t.gateway.app.inject({ method: "POST", url: "/api/events/100/holds", headers: { cookie }, payload: { quantity: 1 } });
    expect(hold.statusCode).toBe(201);
    expect(t.backend.calls.refresh).toBe(1);
    // The refreshed token is in the new cookie: the next call needs no refresh.
    const renewed = sessionCookie(hold);
    const orders = await t.gateway.app.inject({ method: "GET", url: "/api/orders", headers: { cookie: renewed } });
    expect(orders.statusCode).toBe(200);
    expect(t.backend.calls.refresh).toBe(1);
  });

  it("when the identity token is within a minute of expiry, it is refreshed before the call", async () => {
    const cookie = await signInWithTokenLifetime(30_000);
    const orders = await t.gateway.app.inject({ method: "GET", url: "/api/orders", headers: { cookie } });
    expect(orders.statusCode).toBe(200);
    expect(t.backend.calls.refresh).toBe(1);
  });

  it("when a fresh identity token has plenty of time left, nothing is refreshed", async () => {
    const cookie = await signInWithTokenLifetime(3600_000);
    expect((await t.gateway.app.inject({ method: "GET", url: "/api/orders", headers: { cookie } })).statusCode).toBe(200);
    expect(t.backend.calls.refresh).toBeUndefined();
  });

  it("the waiting room does not refresh a token near its expiry: a poll never waits for the users service", async () => {
    const cookie = await signInWithTokenLifetime(30_000);
    t.backend.failWith("refresh", "UNAVAILABLE"); // would surface if a join or poll asked for one
    const join = await t.gateway.app.inject({ method: "POST", url: "/api/events/100/queue", headers: { cookie } });
    expect(join.statusCode).toBe(200);
    const poll = await t.gateway.app.inject({ method: "GET", url: "/api/events/100/queue", headers: { cookie } });
    expect(poll.statusCode).toBe(200);
    expect(t.backend.calls.refresh).toBeUndefined();
  });

  it("the waiting room takes an expired token while its refresh token lasts, and the hold that follows refreshes it", async () => {
    const cookie = await signInWithTokenLifetime(-1000);
    t.backend.tokenLifetimeMs = 3600_000;
    expect((await t.gateway.app.inject({ method: "POST", url: "/api/events/100/queue", headers: { cookie } })).statusCode).toBe(200);
    expect(t.backend.calls.refresh).toBeUndefined();
    const hold = await t.gateway.app.inject({ method: "POST", url: "/api/events/100/holds", headers: { cookie }, payload: { quantity: 1 } });
    expect(hold.statusCode).toBe(201);
    expect(t.backend.calls.refresh).toBe(1);
  });

  it("when the refresh token is refused, the call is 401 and the session cookie is cleared", async () => {
    const cookie = await signInWithTokenLifetime(-1000);
    t.backend.failWith("refresh", "UNAUTHENTICATED");
    const response = await t.gateway.app.inject({ method: "POST", url: "/api/events/100/holds", headers: { cookie }, payload: { quantity: 1 } });
    expect(response.statusCode).toBe(401);
    expect(response.json().error.code).toBe("UNAUTHENTICATED");
    // A Set-Cookie must be there, and it must end the session (empty, already expired): a missing
    // header would leave the browser with the old cookie.
    const cleared = response.cookies.find((c) => c.name === "boxoffice_session") as { value: string; expires?: Date; maxAge?: number } | undefined;
    expect(cleared, "a Set-Cookie that clears the session").toBeDefined();
    expect(cleared?.value).toBe("");
    expect(cleared?.maxAge === 0 || (cleared?.expires !== undefined && cleared.expires.getTime() <= Date.now())).toBe(true);
    const after = await t.gateway.app.inject({ method: "GET", url: "/api/me", headers: { cookie: `boxoffice_session=${cleared?.value ?? ""}` } });
    expect(after.statusCode).toBe(401);
  });

  it("when the users service is briefly away, a token that is still valid carries the call; an expired one does not", async () => {
    t.backend.failWith("refresh", "UNAVAILABLE");
    const nearlyExpired = await signInWithTokenLifetime(30_000);
    expect((await t.gateway.app.inject({ method: "GET", url: "/api/orders", headers: { cookie: nearlyExpired } })).statusCode).toBe(200);
    const expired = await signInWithTokenLifetime(-1000);
    expect((await t.gateway.app.inject({ method: "GET", url: "/api/orders", headers: { cookie: expired } })).statusCode).toBe(503);
  });
});
