import { describe, expect, it } from "vitest";
import { createLoginLimiter, createMemoryFailureCounter } from "../src/domain/login-limiter.ts";
import { createPasswordHasher } from "../src/domain/password-hasher.ts";
import { developmentSigningKey, resolveSigningKeys } from "../src/domain/signing-keys.ts";

describe("password hashing", () => {
  const hasher = createPasswordHasher({ logN: 10, r: 8, p: 1 });

  it("when a password is hashed, the stored form carries its scrypt parameters and a fresh salt", async () => {
    const [a, b] = await Promise.all([hasher.hash("open sesame"), hasher.hash("open sesame")]);
    expect(a).toMatch(/^scrypt\$10\$8\$1\$[\w-]+\$[\w-]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain("open sesame");
  });

  it("when the right password is given it verifies; a wrong one or a corrupt hash does not", async () => {
    const stored = await hasher.hash("open sesame");
    expect(await hasher.verify("open sesame", stored)).toBe(true);
    expect(await hasher.verify("open sesame!", stored)).toBe(false);
    expect(await hasher.verify("open sesame", "md5$abc")).toBe(false);
  });

  it("when the cost is raised, hashes made at the old cost still verify", async () => {
    const old = await hasher.hash("open sesame");
    const stronger = createPasswordHasher({ logN: 11, r: 8, p: 1 });
    expect(await stronger.verify("open sesame", old)).toBe(true);
  });
});

describe("login failure limits", () => {
  it("when an email used up its attempts, it is blocked until the window ends; a success starts it afresh", async () => {
    let now = 0;
    const limiter = createLoginLimiter(createMemoryFailureCounter(() => now), { perEmail: 2, perAddress: 10, windowSeconds: 60 });
    expect(await limiter.begin("a@x.io", undefined)).toBe(true); // fails
    expect(await limiter.begin("a@x.io", undefined)).toBe(true); // fails
    expect(await limiter.begin("a@x.io", undefined)).toBe(false);
    now += 61_000;
    expect(await limiter.begin("a@x.io", undefined)).toBe(true); // fails
    expect(await limiter.begin("a@x.io", undefined)).toBe(true);
    await limiter.succeeded("a@x.io", undefined);
    expect(await limiter.begin("a@x.io", undefined)).toBe(true);
  });

  it("when an address logs in successfully, its attempt does not count against the address", async () => {
    const limiter = createLoginLimiter(createMemoryFailureCounter(), { perEmail: 5, perAddress: 2, windowSeconds: 60 });
    for (let i = 0; i < 5; i++) {
      expect(await limiter.begin(`u${i}@x.io`, "10.0.0.1")).toBe(true);
      await limiter.succeeded(`u${i}@x.io`, "10.0.0.1");
    }
  });
});

describe("signing keys", () => {
  it("when no keys are configured, every instance derives the same development key from the seed", () => {
    expect(developmentSigningKey("s1")).toEqual(developmentSigningKey("s1"));
    expect(developmentSigningKey("s1").kid).not.toBe(developmentSigningKey("s2").kid);
    expect(resolveSigningKeys({ USERS_DEV_KEY_SEED: "s1" }).development).toBe(true);
  });
});
