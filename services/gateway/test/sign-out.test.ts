// Sign-out signs out: a copy of the session cookie taken before DELETE /api/session (a shared
// computer, a stolen backup, a proxy log) signs nobody in afterwards — on the gateway that signed
// out, and on any other gateway of the deployment (the revocation list lives in the bus's Redis).
import { requireRedis, uniqueName } from "@boxoffice/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { createFakeBackend } from "./fake-backend.ts";
import { createTestGateway, newSessionKey, sessionCookie, type TestGateway } from "./helpers.ts";

const redis = await requireRedis();
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
    // The refresh token inside the cookie is revoked at the users service too.
    expect(signingOut.backend.calls.revokeRefreshToken).toBe(1);

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
