import { RpcError } from "@boxoffice/bus";
import { usersHealthV1, usersKeysV1, usersLoginV1, usersProfileV1, usersRegisterV1 } from "@boxoffice/contracts";
import { createTokenSigner, createTokenVerifier, generateSigningKey } from "@boxoffice/identity";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUsers, targets, type UsersHarness } from "./fixture.ts";

async function failure(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RpcError) return error;
    throw error;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

describe.each(targets)("users service on $name", (target) => {
  let h: UsersHarness;
  beforeAll(async () => {
    if (target.available) h = await startUsers(target);
  });
  afterAll(async () => {
    await h?.close();
  });

  describe.skipIf(!target.available)("accounts", () => {
    it("when a buyer registers and logs in, the token proves who they are to the profile call", async () => {
      const { user } = await h.client.call(usersRegisterV1, { email: "Alice@Example.com", password: "correct horse", displayName: "Alice" });
      expect(user).toMatchObject({ email: "alice@example.com", displayName: "Alice", role: "buyer" });
      const login = await h.client.call(usersLoginV1, { email: "ALICE@example.com", password: "correct horse" });
      expect(login.user.id).toBe(user.id);
      expect(Date.parse(login.expiresAt)).toBeGreaterThan(Date.now());
      const profile = await h.client.call(usersProfileV1, {}, { token: login.token });
      expect(profile.user).toEqual(user);
    });

    it("when an email is registered again in other capitals, it is EMAIL_TAKEN", async () => {
      await h.client.call(usersRegisterV1, { email: "bob@example.com", password: "password-1", displayName: "Bob" });
      const error = await failure(h.client.call(usersRegisterV1, { email: "BOB@example.com", password: "password-2", displayName: "Bob 2" }));
      expect(error.code).toBe("EMAIL_TAKEN");
    });

    it("when 20 people register one email at the same time, exactly one succeeds and the rest get EMAIL_TAKEN", async () => {
      const email = "race@example.com";
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => h.client.call(usersRegisterV1, { email, password: `password-${i}`, displayName: `Racer ${i}` }, { deadlineMs: 30_000 })),
      );
      const won = results.filter((r) => r.status === "fulfilled");
      const codes = results.flatMap((r) => (r.status === "rejected" ? [(r.reason as RpcError).code] : []));
      expect(won).toHaveLength(1);
      expect(codes).toEqual(Array(19).fill("EMAIL_TAKEN"));
    });

    it("when the password is wrong or the account unknown, the answer is the same INVALID_CREDENTIALS", async () => {
      await h.client.call(usersRegisterV1, { email: "carol@example.com", password: "carol-password", displayName: "Carol" });
      expect((await failure(h.client.call(usersLoginV1, { email: "carol@example.com", password: "wrong-password" }))).code).toBe("INVALID_CREDENTIALS");
      const unknown = await failure(h.client.call(usersLoginV1, { email: "nobody@example.com", password: "wrong-password" }));
      expect(unknown.code).toBe("INVALID_CREDENTIALS");
      expect(unknown.message).toBe("wrong email or password");
    });

    it("when one email fails five times on one instance, even the right password is RATE_LIMITED on every instance", async () => {
      // The guesses reach one instance only; then it leaves, and the instance that never saw them answers.
      const [...before] = h.instances;
      await h.client.call(usersRegisterV1, { email: "dave@example.com", password: "dave-password", displayName: "Dave" });
      for (let i = 0; i < 5; i++) {
        expect((await failure(h.client.call(usersLoginV1, { email: "dave@example.com", password: `guess-${i}` }))).code).toBe("INVALID_CREDENTIALS");
      }
      await h.startInstance();
      for (const instance of before) await h.stopInstance(instance);
      expect(h.instances).toHaveLength(1);
      for (let i = 0; i < 3; i++) {
        const error = await failure(h.client.call(usersLoginV1, { email: "dave@example.com", password: "dave-password" }));
        expect(error.code).toBe("RATE_LIMITED");
      }
    });

    it("when twenty wrong guesses for one email arrive at once, at most five passwords are checked", async () => {
      await h.client.call(usersRegisterV1, { email: "henry@example.com", password: "henry-password", displayName: "Henry" });
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => h.client.call(usersLoginV1, { email: "henry@example.com", password: `guess-${i}` }, { deadlineMs: 30_000 })),
      );
      const codes = results.map((r) => (r.status === "rejected" ? (r.reason as RpcError).code : "OK"));
      expect(codes.filter((c) => c === "INVALID_CREDENTIALS")).toHaveLength(5);
      expect(codes.filter((c) => c === "RATE_LIMITED")).toHaveLength(15);
    });

    it("when a stranger fails five times for an account from their address, they must wait (Retry-After 30 s), and the owner still signs in from theirs", async () => {
      await h.client.call(usersRegisterV1, { email: "ivy@example.com", password: "ivy-password", displayName: "Ivy" });
      for (let i = 0; i < 5; i++) {
        const guess = await failure(h.client.call(usersLoginV1, { email: "ivy@example.com", password: `guess-${i}`, clientAddress: "203.0.113.50" }));
        expect(guess.code).toBe("INVALID_CREDENTIALS");
      }
      const stranger = await failure(h.client.call(usersLoginV1, { email: "ivy@example.com", password: "guess-5", clientAddress: "203.0.113.50" }));
      expect(stranger.code).toBe("RATE_LIMITED");
      expect(stranger.details).toMatchObject({ retryAfterSeconds: 30 });
      const owner = await h.client.call(usersLoginV1, { email: "ivy@example.com", password: "ivy-password", clientAddress: "198.51.100.7" });
      expect(owner.user.email).toBe("ivy@example.com");
    });

    it("when one client address fails twenty times across emails, that address is RATE_LIMITED", async () => {
      await h.client.call(usersRegisterV1, { email: "erin@example.com", password: "erin-password", displayName: "Erin" });
      for (let i = 0; i < 20; i++) {
        await failure(h.client.call(usersLoginV1, { email: `spray-${i}@example.com`, password: "123456789", clientAddress: "203.0.113.9" }));
      }
      const blocked = await failure(h.client.call(usersLoginV1, { email: "erin@example.com", password: "erin-password", clientAddress: "203.0.113.9" }));
      expect(blocked.code).toBe("RATE_LIMITED");
      const elsewhere = await h.client.call(usersLoginV1, { email: "erin@example.com", password: "erin-password", clientAddress: "198.51.100.1" });
      expect(elsewhere.user.email).toBe("erin@example.com");
    });

    it("when the profile is asked without a token, with a forged one or one for another audience, it is UNAUTHENTICATED", async () => {
      await h.client.call(usersRegisterV1, { email: "frank@example.com", password: "frank-password", displayName: "Frank" });
      const forger = await createTokenSigner({ keys: [await generateSigningKey("dev-forged")] });
      const forged = await forger.sign({ userId: "1", role: "organizer", email: "frank@example.com" });
      const otherAudience = await h.client.call(usersLoginV1, { email: "frank@example.com", password: "frank-password", audience: "elsewhere" });
      for (const token of [undefined, "garbage", forged.token, otherAudience.token]) {
        expect((await failure(h.client.call(usersProfileV1, {}, { token }))).code).toBe("UNAUTHENTICATED");
      }
    });

    it("when input is malformed, each method answers VALIDATION_FAILED naming the fields", async () => {
      const short = await failure(h.client.call(usersRegisterV1, { email: "not-an-email", password: "short", displayName: "" }));
      expect(short.code).toBe("VALIDATION_FAILED");
      expect(JSON.stringify(short.details)).toMatch(/email/);
      expect(JSON.stringify(short.details)).toMatch(/password/);
      const wrongTypes = await failure(h.client.call(usersLoginV1, { email: 42, password: null } as never));
      expect(wrongTypes.code).toBe("VALIDATION_FAILED");
    });

    it("when the service starts with SEED_DEMO, the demo organiser exists once and can log in as an organizer", async () => {
      await h.startInstance(); // seeding again is harmless
      const login = await h.client.call(usersLoginV1, { email: "organizer@boxoffice.test", password: "organizer-password" });
      expect(login.user.role).toBe("organizer");
    });

    it("when the service starts with SEED_DEMO, the demo operator exists once and logs in with the operator role", async () => {
      await h.startInstance();
      const login = await h.client.call(usersLoginV1, { email: "operator@boxoffice.test", password: "operator-password" });
      expect(login.user.role).toBe("operator");
    });

    it("when another service verifies a login token with the published keys, it reads the caller; no password reaches the logs", async () => {
      await h.client.call(usersRegisterV1, { email: "grace@example.com", password: "grace-secret-pw", displayName: "Grace" });
      const login = await h.client.call(usersLoginV1, { email: "grace@example.com", password: "grace-secret-pw" });
      const verifier = createTokenVerifier({ rpc: h.client });
      await expect(verifier.verify(login.token)).resolves.toEqual({ userId: login.user.id, role: "buyer", email: "grace@example.com" });
      const { keys } = await h.client.call(usersKeysV1, {});
      expect(keys.every((k) => !("d" in k))).toBe(true);
      await failure(h.client.call(usersLoginV1, { email: "grace@example.com", password: "grace-wrong-pw" }));
      expect(h.logLines.join("\n")).not.toMatch(/grace-secret-pw|grace-wrong-pw/);
    });

    it("when asked for health, it reports the bus and every shard reachable", async () => {
      const health = await h.client.call(usersHealthV1, {});
      expect(health).toMatchObject({ service: "users", ok: true, bus: true });
      expect(health.shards).toHaveLength(2);
      expect(health.shards.every((s) => s.ok)).toBe(true);
    });
  });
});

describe("signing key rotation", () => {
  it("when a new key is put first, tokens of the old key still verify and new tokens use the new key", async () => {
    const oldKey = await generateSigningKey("old");
    const newKey = await generateSigningKey("new");
    const h = await startUsers(targets[0], { USERS_SIGNING_KEYS: JSON.stringify([oldKey]) }, 1);
    try {
      await h.client.call(usersRegisterV1, { email: "rota@example.com", password: "rota-password", displayName: "Rota" });
      const before = await h.client.call(usersLoginV1, { email: "rota@example.com", password: "rota-password" });
      const first = h.instances[0];
      await h.startInstance({ USERS_SIGNING_KEYS: JSON.stringify([newKey, oldKey]) });
      await h.stopInstance(first); // a rolling deploy: only the rotated instance serves now
      const verifier = createTokenVerifier({ rpc: h.client, refreshMinIntervalMs: 0 });
      const { keys } = await h.client.call(usersKeysV1, {});
      expect(keys.map((k) => k.kid)).toContain("old");
      await expect(verifier.verify(before.token)).resolves.toMatchObject({ email: "rota@example.com" });
      const signer = await createTokenSigner({ keys: [newKey, oldKey] });
      const fresh = await signer.sign({ userId: before.user.id, role: "buyer", email: "rota@example.com" });
      expect((await h.client.call(usersProfileV1, {}, { token: fresh.token })).user.id).toBe(before.user.id);
    } finally {
      await h.close();
    }
  });
});
