// Sign-out signs out: a copy of the session cookie taken before DELETE /api/session (a shared
// computer, a stolen backup, a proxy log) signs nobody in afterwards — on the gateway that signed
// out at once, and on any other gateway of the deployment within SESSION_REVOCATION_CACHE_MS (the
// revocation list lives in the bus's Redis; each gateway reuses a "not signed out" for that long).
import { requireRedis, uniqueName, waitFor } from "@boxoffice/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { cachedRevocations } from "../src/session.ts";
import { createFakeBackend } from "./fake-backend.ts";
import { createTestGateway, newSessionKey, sessionCookie, type TestGateway } from "./helpers.ts";

const redis = await requireRedis();
/** SESSION_REVOCATION_CACHE_MS's default: how long another gateway may still let a signed-out cookie in. */
const REVOCATION_BOUND_MS = 1000;
const ORGANIZER = { email: "organizer@boxoffice.test", password: "organizer-password" };

const targets = [
  { name: "one gateway, in memory", available: true, env: () => ({}), twoGateways: false },
  { name: "two gateways sharing Redis", available: redis.available, env: () => ({ BUS_URL: redis.url, BUS_PREFIX: uniqueName("signout") }), twoGateways: true },
];

describe.each(targets)("sign-out ($name)", (target) => {
  const open: TestGateway[] = [];
  afterEach(async () => {
    for (const t of open.splice(0)) await t.close();
  });

  async function gateways(): Promise<[TestGateway, TestGateway]> {
    const env = { SESSION_KEYS: newSessionKey(), ...target.env() };
    const backend = createFakeBackend();
    const first = await createTestGateway(env, backend);
    open.push(first);
    if (!target.twoGateways) return [first, first];
    const second = await createTestGateway(env, backend);
    open.push(second);
    return [first, second];
  }

  it.skipIf(!target.available)("when a cookie copied before sign-out is replayed, GET /api/me answers 401 and nothing is signed in", async () => {
    const [signingOut, replayedOn] = await gateways();
    const signIn = await signingOut.gateway.app.inject({ method: "POST", url: "/api/session", payload: ORGANIZER });
    expect(signIn.statusCode).toBe(200);
    const copied = sessionCookie(signIn);
    expect((await replayedOn.gateway.app.inject({ method: "GET", url: "/api/me", headers: { cookie: copied } })).statusCode).toBe(200);

    const signOut = await signingOut.gateway.app.inject({ method: "DELETE", url: "/api/session", headers: { cookie: copied } });
    expect(signOut.statusCode).toBe(204);
    // The gateway that signed out refuses the copy at once.
    expect((await signingOut.gateway.app.inject({ method: "GET", url: "/api/me", headers: { cookie: copied } })).statusCode).toBe(401);
    // The refresh token inside the cookie is revoked at the users service too.
    expect(signingOut.backend.calls.revokeRefreshToken).toBe(1);

    // The other gateway let this cookie in a moment ago: it may reuse that answer for up to the bound.
    await waitFor(async () => (await replayedOn.gateway.app.inject({ method: "GET", url: "/api/me", headers: { cookie: copied } })).statusCode === 401, {
      timeoutMs: REVOCATION_BOUND_MS + 500,
      what: "the other gateway to refuse the signed-out cookie within SESSION_REVOCATION_CACHE_MS",
    });
    for (const t of [signingOut, replayedOn]) {
      const me = await t.gateway.app.inject({ method: "GET", url: "/api/me", headers: { cookie: copied } });
      expect(me.statusCode, me.body).toBe(401);
      expect(me.json()).toMatchObject({ error: { code: "UNAUTHENTICATED" } });
      // Nor can the copy buy: the same check guards every signed-in route.
      const hold = await t.gateway.app.inject({ method: "POST", url: "/api/events/1/holds", headers: { cookie: copied }, payload: { quantity: 1 } });
      expect(hold.statusCode, hold.body).toBe(401);
    }
  });

  it.skipIf(!target.available)("when the same user signs in again after signing out, the new session works", async () => {
    const [first, second] = await gateways();
    const old = sessionCookie(await first.gateway.app.inject({ method: "POST", url: "/api/session", payload: ORGANIZER }));
    await first.gateway.app.inject({ method: "DELETE", url: "/api/session", headers: { cookie: old } });
    const fresh = sessionCookie(await second.gateway.app.inject({ method: "POST", url: "/api/session", payload: ORGANIZER }));
    expect((await first.gateway.app.inject({ method: "GET", url: "/api/me", headers: { cookie: fresh } })).statusCode).toBe(200);
    expect((await first.gateway.app.inject({ method: "GET", url: "/api/me", headers: { cookie: old } })).statusCode).toBe(401);
  });
});

describe("the per-gateway memory of the revocation list", () => {
  function fakeList() {
    const signedOut = new Set<string>();
    const calls = { has: 0 };
    return {
      calls,
      signedOut,
      list: {
        async has(id: string) {
          calls.has++;
          return signedOut.has(id);
        },
        async add(id: string) {
          signedOut.add(id);
          return true;
        },
        async close() {},
      },
    };
  }

  it("reuses 'not signed out' for the bound, then asks again; a sign-out made here counts at once", async () => {
    let now = 0;
    const { list, calls, signedOut } = fakeList();
    const cached = cachedRevocations(list, 1000, () => now);
    expect(await cached.has("a")).toBe(false);
    expect(await cached.has("a")).toBe(false);
    expect(calls.has).toBe(1);
    // Signed out elsewhere: still let in until the bound passes, refused from then on.
    signedOut.add("a");
    now = 999;
    expect(await cached.has("a")).toBe(false);
    now = 1000;
    expect(await cached.has("a")).toBe(true);
    expect(calls.has).toBe(2);
    // Signed out here: at once, and for good.
    expect(await cached.has("b")).toBe(false);
    await cached.add("b");
    expect(await cached.has("b")).toBe(true);
    now = 1_000_000;
    expect(await cached.has("b")).toBe(true);
  });

  it("does not keep a failed lookup, and with a bound of 0 asks every time", async () => {
    const { list, calls } = fakeList();
    let fail = true;
    const flaky = { ...list, has: async (id: string) => (fail ? Promise.reject(new Error("redis down")) : list.has(id)) };
    const cached = cachedRevocations(flaky, 1000, () => 0);
    await expect(cached.has("a")).rejects.toThrow("redis down");
    fail = false;
    expect(await cached.has("a")).toBe(false);
    const uncached = cachedRevocations(list, 0);
    await uncached.has("c");
    await uncached.has("c");
    expect(calls.has).toBe(3);
  });
});
