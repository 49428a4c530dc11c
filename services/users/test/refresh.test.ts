// users.refresh.v1: a session outlives one identity token without the password being asked again,
// and nothing but a refresh token this service issued, still valid, for a user who still exists,
// gets a new identity token.
import { RpcError } from "@boxoffice/bus";
import { usersLoginV1, usersProfileV1, usersRefreshV1, usersRegisterV1, usersRevokeV1 } from "@boxoffice/contracts";
import { createTokenSigner, generateSigningKey, REFRESH_AUDIENCE, type JWK } from "@boxoffice/identity";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUsers, targets, type UsersHarness } from "./fixture.ts";

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "OK";
  } catch (error) {
    if (error instanceof RpcError) return error.code;
    throw error;
  }
}

describe.each(targets)("token refresh on $name", (target) => {
  let h: UsersHarness;
  let key: JWK;
  beforeAll(async () => {
    key = await generateSigningKey("refresh-test");
    if (target.available) h = await startUsers(target, { USERS_SIGNING_KEYS: JSON.stringify([key]), USERS_REFRESH_TTL_SECONDS: "3600" }, 1);
  });
  afterAll(async () => {
    await h?.close();
  });

  describe.skipIf(!target.available)("users.refresh.v1", () => {
    it("when a signed-in buyer refreshes, they get a fresh identity token that proves who they are", async () => {
      const { user } = await h.client.call(usersRegisterV1, { email: "rhea@example.com", password: "rhea-password", displayName: "Rhea" });
      const login = await h.client.call(usersLoginV1, { email: "rhea@example.com", password: "rhea-password" });
      expect(login.refreshToken).toEqual(expect.any(String));
      const refreshExpiresIn = Date.parse(login.refreshExpiresAt!) - Date.now();
      expect(refreshExpiresIn).toBeGreaterThan(3500_000);
      expect(refreshExpiresIn).toBeLessThanOrEqual(3600_000);
      const refreshed = await h.client.call(usersRefreshV1, { refreshToken: login.refreshToken! });
      expect(refreshed.user).toEqual(user);
      expect(Date.parse(refreshed.expiresAt)).toBeGreaterThan(Date.now());
      expect((await h.client.call(usersProfileV1, {}, { token: refreshed.token })).user).toEqual(user);
      // The refresh token is no identity token, and an identity token is no refresh token.
      expect(await codeOf(h.client.call(usersProfileV1, {}, { token: login.refreshToken }))).toBe("UNAUTHENTICATED");
      expect(await codeOf(h.client.call(usersRefreshV1, { refreshToken: login.token }))).toBe("UNAUTHENTICATED");
    });

    it("when a refresh token is used, it is replaced: the new one works, and the old one used again signs the whole sign-in out", async () => {
      await h.client.call(usersRegisterV1, { email: "rota@example.com", password: "rota-password", displayName: "Rota" });
      const login = await h.client.call(usersLoginV1, { email: "rota@example.com", password: "rota-password" });
      const first = await h.client.call(usersRefreshV1, { refreshToken: login.refreshToken! });
      expect(first.refreshToken).toEqual(expect.any(String));
      expect(first.refreshToken).not.toBe(login.refreshToken);
      // A sign-in lasts as long as its first refresh token, however often it rotates.
      expect(first.refreshExpiresAt).toBe(login.refreshExpiresAt);
      const second = await h.client.call(usersRefreshV1, { refreshToken: first.refreshToken! });
      expect(second.refreshToken).toEqual(expect.any(String));
      // The thief replays the login's token, two rotations old: reuse. Everything of this sign-in is revoked.
      expect(await codeOf(h.client.call(usersRefreshV1, { refreshToken: login.refreshToken! }))).toBe("UNAUTHENTICATED");
      expect(await codeOf(h.client.call(usersRefreshV1, { refreshToken: second.refreshToken! }))).toBe("UNAUTHENTICATED");
      // Another sign-in of the same user is not touched.
      const again = await h.client.call(usersLoginV1, { email: "rota@example.com", password: "rota-password" });
      expect(await codeOf(h.client.call(usersRefreshV1, { refreshToken: again.refreshToken! }))).toBe("OK");
    });

    it("when two requests refresh the same token at once, both get the same replacement and nothing is revoked", async () => {
      await h.client.call(usersRegisterV1, { email: "twin@example.com", password: "twin-password", displayName: "Twin" });
      const login = await h.client.call(usersLoginV1, { email: "twin@example.com", password: "twin-password" });
      const [a, b] = await Promise.all([
        h.client.call(usersRefreshV1, { refreshToken: login.refreshToken! }),
        h.client.call(usersRefreshV1, { refreshToken: login.refreshToken! }),
      ]);
      expect(a.refreshToken).toEqual(expect.any(String));
      expect(b.refreshToken).toBe(a.refreshToken);
      expect(await codeOf(h.client.call(usersRefreshV1, { refreshToken: a.refreshToken! }))).toBe("OK");
    });

    it("when the gateway revokes a refresh token at sign-out, it and every rotation of its sign-in are refused", async () => {
      await h.client.call(usersRegisterV1, { email: "gone@example.com", password: "gone-password", displayName: "Gone" });
      const login = await h.client.call(usersLoginV1, { email: "gone@example.com", password: "gone-password" });
      const rotated = await h.client.call(usersRefreshV1, { refreshToken: login.refreshToken! });
      await h.client.call(usersRevokeV1, { refreshToken: rotated.refreshToken! });
      expect(await codeOf(h.client.call(usersRefreshV1, { refreshToken: rotated.refreshToken! }))).toBe("UNAUTHENTICATED");
      // Revoking an unknown token is not an error (sign-out must not fail on it).
      await expect(h.client.call(usersRevokeV1, { refreshToken: "not-a-token" })).resolves.toEqual({});
    });

    it("when a caller asks for a token with the refresh tokens' audience, it is FORBIDDEN: a refresh token cannot mint refresh tokens", async () => {
      await h.client.call(usersRegisterV1, { email: "mint@example.com", password: "mint-password", displayName: "Mint" });
      const login = await h.client.call(usersLoginV1, { email: "mint@example.com", password: "mint-password" });
      expect(await codeOf(h.client.call(usersRefreshV1, { refreshToken: login.refreshToken!, audience: REFRESH_AUDIENCE }))).toBe("FORBIDDEN");
      expect(await codeOf(h.client.call(usersLoginV1, { email: "mint@example.com", password: "mint-password", audience: REFRESH_AUDIENCE }))).toBe("FORBIDDEN");
      // What it would have been used for: refreshing with the minted token as a refresh token.
      const minted = await h.client.call(usersRefreshV1, { refreshToken: login.refreshToken!, audience: "boxoffice" });
      expect(await codeOf(h.client.call(usersRefreshV1, { refreshToken: minted.token }))).toBe("UNAUTHENTICATED");
    });

    it("when the refresh token is forged, expired, for another audience or its user is gone, it is UNAUTHENTICATED", async () => {
      const { user } = await h.client.call(usersRegisterV1, { email: "remy@example.com", password: "remy-password", displayName: "Remy" });
      const identity = { userId: user.id, role: user.role, email: user.email };
      const forger = await createTokenSigner({ keys: [await generateSigningKey("refresh-test")] });
      const forged = await forger.sign(identity, { audience: REFRESH_AUDIENCE });
      const hourAgo = await createTokenSigner({ keys: [key], now: () => Date.now() - 3600_000 });
      const expired = await hourAgo.sign(identity, { audience: REFRESH_AUDIENCE, ttlSeconds: 60 });
      const signer = await createTokenSigner({ keys: [key] });
      const otherAudience = await signer.sign(identity, { audience: "boxoffice-elsewhere" });
      const nobody = await signer.sign({ ...identity, userId: "424242" }, { audience: REFRESH_AUDIENCE });
      for (const refreshToken of [forged.token, expired.token, otherAudience.token, nobody.token, "garbage"]) {
        expect(await codeOf(h.client.call(usersRefreshV1, { refreshToken }))).toBe("UNAUTHENTICATED");
      }
      // Signed with the real key but never issued by a login: the ledger does not know it.
      const neverIssued = await signer.sign(identity, { audience: REFRESH_AUDIENCE });
      expect(await codeOf(h.client.call(usersRefreshV1, { refreshToken: neverIssued.token }))).toBe("UNAUTHENTICATED");
      // The genuine article, for contrast.
      const genuine = await h.client.call(usersLoginV1, { email: "remy@example.com", password: "remy-password" });
      expect(await codeOf(h.client.call(usersRefreshV1, { refreshToken: genuine.refreshToken! }))).toBe("OK");
      expect(await codeOf(h.client.call(usersRefreshV1, { refreshToken: "" }))).toBe("VALIDATION_FAILED");
    });
  });
});
