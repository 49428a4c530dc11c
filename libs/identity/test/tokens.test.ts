import { createInMemoryChannelLayer, createRpcClient, createRpcServer, RpcError } from "@boxoffice/bus";
import { usersKeysV1 } from "@boxoffice/contracts";
import { createPrivateKey, sign as signBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createTokenSigner, createTokenVerifier, generateSigningKey, parseSigningKeys, pinnedKeysFrom } from "../src/index.ts";

const alice = { userId: "1001", role: "buyer" as const, email: "alice@example.com" };

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "no error";
  } catch (error) {
    return error instanceof RpcError ? error.code : `unexpected ${String(error)}`;
  }
}

describe("identity tokens", () => {
  it("when the users keys are pinned, a key served by an impostor on users.keys.v1 is never asked for nor trusted", async () => {
    const real = await createTokenSigner({ keys: [await generateSigningKey("real-1")] });
    const impostor = await createTokenSigner({ keys: [await generateSigningKey("fake-1")] });
    const layer = createInMemoryChannelLayer();
    let asked = 0;
    // Whatever answers users.keys.v1 on the bus: here, someone serving their own key.
    const server = createRpcServer({ layer, service: "users" }).handle(usersKeysV1, () => {
      asked++;
      return { keys: impostor.publicKeys() };
    });
    server.start();
    const rpc = createRpcClient({ layer, service: "inventory" });
    try {
      const verifier = createTokenVerifier({ rpc, fetchKeys: pinnedKeysFrom(JSON.stringify(real.publicKeys())), refreshMinIntervalMs: 0 });
      expect(await codeOf(verifier.verify((await impostor.sign(alice)).token))).toBe("UNAUTHENTICATED");
      expect((await verifier.verify((await real.sign(alice)).token)).userId).toBe(alice.userId);
      expect(asked).toBe(0);
      // Without pinning, the same verifier would have believed the impostor.
      const unpinned = createTokenVerifier({ rpc });
      expect((await unpinned.verify((await impostor.sign(alice)).token)).userId).toBe(alice.userId);
    } finally {
      await rpc.close();
      await server.stop();
    }
  });

  it("when IDENTITY_TRUSTED_JWKS is not a list of public keys, the error says so", async () => {
    const key = await generateSigningKey("k");
    expect(() => pinnedKeysFrom("nope")).toThrow(/JSON list/);
    expect(() => pinnedKeysFrom(JSON.stringify([key]))).toThrow(/private key/);
    expect(pinnedKeysFrom(undefined)).toBeUndefined();
  });

  it("when a token is signed by the users key, any verifier with the published keys reads the caller back", async () => {
    const signer = await createTokenSigner({ keys: [await generateSigningKey("k1")] });
    const verifier = createTokenVerifier({ fetchKeys: async () => signer.publicKeys() });
    const { token, expiresAt } = await signer.sign(alice);
    expect(expiresAt.getTime()).toBeGreaterThan(Date.now());
    await expect(verifier.requireUser({ token })).resolves.toEqual(alice);
  });

  it("when the published keys are fetched, no private part leaves the users service", async () => {
    const signer = await createTokenSigner({ keys: [await generateSigningKey("k1")] });
    for (const key of signer.publicKeys()) expect(key).not.toHaveProperty("d");
  });

  it("when the token is missing, expired, forged or for another audience, the caller is UNAUTHENTICATED", async () => {
    let clock = Date.now();
    const signer = await createTokenSigner({ keys: [await generateSigningKey("k1")], ttlSeconds: 60, now: () => clock });
    const forger = await createTokenSigner({ keys: [await generateSigningKey("k1")] });
    const verifier = createTokenVerifier({ fetchKeys: async () => signer.publicKeys(), now: () => clock });
    const good = await signer.sign(alice);
    const otherAudience = await signer.sign(alice, { audience: "someone-else" });
    const forged = await forger.sign({ ...alice, role: "organizer" });

    expect(await codeOf(verifier.requireUser({}))).toBe("UNAUTHENTICATED");
    expect(await codeOf(verifier.verify("not.a.token"))).toBe("UNAUTHENTICATED");
    expect(await codeOf(verifier.verify(forged.token))).toBe("UNAUTHENTICATED");
    expect(await codeOf(verifier.verify(otherAudience.token))).toBe("UNAUTHENTICATED");
    const tampered = good.token.replace(/\.[^.]+\./, () => `.${Buffer.from(JSON.stringify({ sub: "1", role: "organizer", email: "x", iss: "boxoffice-users", aud: "boxoffice", exp: 9_999_999_999 })).toString("base64url")}.`);
    expect(tampered).not.toBe(good.token);
    expect(await codeOf(verifier.verify(tampered))).toBe("UNAUTHENTICATED");

    clock += 10 * 60_000;
    expect(await codeOf(verifier.verify(good.token))).toBe("UNAUTHENTICATED");
  });

  it("when a token is signed by the right key but its header is not the plain EdDSA one (another alg, a crit extension) or its claims are off, it is refused as jose refuses it", async () => {
    const key = await generateSigningKey("k1");
    const signer = await createTokenSigner({ keys: [key] });
    const verifier = createTokenVerifier({ fetchKeys: async () => signer.publicKeys() });
    const privateKey = createPrivateKey({ key: { kty: "OKP", crv: "Ed25519", x: key.x as string, d: key.d as string }, format: "jwk" });
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: alice.userId, role: alice.role, email: alice.email, iss: "boxoffice-users", aud: "boxoffice", iat: now, exp: now + 60 };
    const tokenWith = (header: object, payload: object = claims) => {
      const input = `${Buffer.from(JSON.stringify(header)).toString("base64url")}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}`;
      return `${input}.${signBytes(null, Buffer.from(input), privateKey).toString("base64url")}`;
    };

    // The same key and claims with the plain header verify: the cases below differ in one thing each.
    await expect(verifier.verify(tokenWith({ alg: "EdDSA", kid: "k1", typ: "JWT" }))).resolves.toEqual(alice);
    expect(await codeOf(verifier.verify(tokenWith({ alg: "Ed25519", kid: "k1" }))), "the key is published for EdDSA only").toBe("UNAUTHENTICATED");
    expect(await codeOf(verifier.verify(tokenWith({ alg: "EdDSA", kid: "k1", crit: ["exp"], exp: 1 }))), "an unknown critical extension").toBe("UNAUTHENTICATED");
    expect(await codeOf(verifier.verify(tokenWith({ alg: "EdDSA", kid: "k1" }, { ...claims, iss: "someone" }))), "another issuer").toBe("UNAUTHENTICATED");
    expect(await codeOf(verifier.verify(tokenWith({ alg: "EdDSA", kid: "k1" }, { ...claims, nbf: now + 3600 }))), "not valid yet").toBe("UNAUTHENTICATED");
    expect(await codeOf(verifier.verify(tokenWith({ alg: "EdDSA", kid: "k1" }, { ...claims, exp: now - 60 }))), "expired").toBe("UNAUTHENTICATED");
    expect(await codeOf(verifier.verify(tokenWith({ alg: "EdDSA", kid: "k2" }))), "a kid nobody published").toBe("UNAUTHENTICATED");
  });

  it("when a verified token is presented again, it is answered from memory until its exp and never after", async () => {
    let clock = Date.now();
    let fetches = 0;
    const signer = await createTokenSigner({ keys: [await generateSigningKey("k1")], ttlSeconds: 60, now: () => clock });
    const verifier = createTokenVerifier({ fetchKeys: async () => (fetches++, signer.publicKeys()), now: () => clock, clockToleranceSeconds: 0 });
    const good = await signer.sign(alice);
    await expect(verifier.verify(good.token)).resolves.toEqual(alice);
    clock += 30_000;
    await expect(verifier.verify(good.token)).resolves.toEqual(alice);
    // A token one character off is another token: verified on its own, and refused. The signature's
    // first character is changed (its last ones carry padding bits, and "AA" there could decode to the
    // same bytes: this test failed once in a CI rehearsal that way).
    const [header, payload, signature] = good.token.split(".");
    const otherSignature = `${signature[0] === "A" ? "B" : "A"}${signature.slice(1)}`;
    expect(await codeOf(verifier.verify(`${header}.${payload}.${otherSignature}`))).toBe("UNAUTHENTICATED");
    clock = good.expiresAt.getTime();
    expect(await codeOf(verifier.verify(good.token))).toBe("UNAUTHENTICATED");
    expect(fetches).toBe(1);
  });

  it("when the keys are invalidated, no token is answered from memory any more", async () => {
    const oldSigner = await createTokenSigner({ keys: [await generateSigningKey("old")] });
    let published = oldSigner.publicKeys();
    const verifier = createTokenVerifier({ fetchKeys: async () => published });
    const { token } = await oldSigner.sign(alice);
    await expect(verifier.verify(token)).resolves.toEqual(alice);
    // The old key is withdrawn: once the verifier reloads its keys, the token it had verified is refused.
    published = (await createTokenSigner({ keys: [await generateSigningKey("new")] })).publicKeys();
    verifier.invalidate();
    expect(await codeOf(verifier.verify(token))).toBe("UNAUTHENTICATED");
  });

  it("when the keys rotate, tokens of the old key verify during the overlap and new ones verify at once", async () => {
    const oldKey = await generateSigningKey("2026-01");
    const newKey = await generateSigningKey("2026-02");
    let published = (await createTokenSigner({ keys: [oldKey] })).publicKeys();
    const verifier = createTokenVerifier({ fetchKeys: async () => published, refreshMinIntervalMs: 0 });
    const before = await (await createTokenSigner({ keys: [oldKey] })).sign(alice);
    await verifier.verify(before.token);

    const rotated = await createTokenSigner({ keys: [newKey, oldKey] });
    published = rotated.publicKeys();
    const after = await rotated.sign(alice);
    // The verifier has never seen kid 2026-02: it re-fetches and accepts.
    await expect(verifier.verify(after.token)).resolves.toEqual(alice);
    await expect(verifier.verify(before.token)).resolves.toEqual(alice);
  });

  it("when an organiser-only call comes from a buyer, it is FORBIDDEN", async () => {
    const signer = await createTokenSigner({ keys: [await generateSigningKey("k1")] });
    const verifier = createTokenVerifier({ fetchKeys: async () => signer.publicKeys() });
    const { token } = await signer.sign(alice);
    expect(await codeOf(verifier.requireRole({ token }, "organizer"))).toBe("FORBIDDEN");
  });

  it("when the keys cannot be fetched and none are cached, verification is UNAVAILABLE (retryable), not a crash", async () => {
    const verifier = createTokenVerifier({ fetchKeys: async () => { throw new Error("users service down"); } });
    expect(await codeOf(verifier.verify("a.b.c"))).toBe("UNAVAILABLE");
  });

  it("when USERS_SIGNING_KEYS is not a list of private keys, parsing says so", async () => {
    expect(() => parseSigningKeys("nope")).toThrow(/JSON list/);
    expect(() => parseSigningKeys(JSON.stringify([{ kty: "OKP", kid: "a", x: "abc" }]))).toThrow(/private part/);
    const key = await generateSigningKey("k9");
    expect(parseSigningKeys(JSON.stringify([key]))[0].kid).toBe("k9");
  });
});

describe("identity keys over the bus", () => {
  it("when a service verifies a token, it fetches the keys with users.keys.v1 once and then verifies locally", async () => {
    const layer = createInMemoryChannelLayer();
    const signer = await createTokenSigner({ keys: [await generateSigningKey("bus-key")] });
    let fetches = 0;
    const keysServer = createRpcServer({ layer, service: "users" }).handle(usersKeysV1, async () => {
      fetches += 1;
      return { keys: signer.publicKeys() };
    });
    keysServer.start();
    const rpc = createRpcClient({ layer, service: "identity-test" });
    try {
      const verifier = createTokenVerifier({ rpc });
      const { token } = await signer.sign(alice);
      for (let i = 0; i < 5; i++) await expect(verifier.requireUser({ token })).resolves.toEqual(alice);
      expect(fetches).toBe(1);
    } finally {
      await rpc.close();
      await keysServer.stop();
      await layer.close();
    }
  });
});
