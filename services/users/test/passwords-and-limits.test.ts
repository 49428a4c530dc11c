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
  it("when an email reaches its failures, it is blocked until the window ends; success resets it", async () => {
    let now = 0;
    const limiter = createLoginLimiter(createMemoryFailureCounter(() => now), { perEmail: 2, perAddress: 10, windowSeconds: 60 });
    await limiter.recordFailure("a@x.io", undefined);
    expect(await limiter.isBlocked("a@x.io", undefined)).toBe(false);
    await limiter.recordFailure("a@x.io", undefined);
    expect(await limiter.isBlocked("a@x.io", undefined)).toBe(true);
    now += 61_000;
    expect(await limiter.isBlocked("a@x.io", undefined)).toBe(false);
    await limiter.recordFailure("a@x.io", undefined);
    await limiter.recordSuccess("a@x.io");
    await limiter.recordFailure("a@x.io", undefined);
    expect(await limiter.isBlocked("a@x.io", undefined)).toBe(false);
  });
});

describe("signing keys", () => {
  it("when no keys are configured, every instance derives the same development key from the seed", () => {
    expect(developmentSigningKey("s1")).toEqual(developmentSigningKey("s1"));
    expect(developmentSigningKey("s1").kid).not.toBe(developmentSigningKey("s2").kid);
    expect(resolveSigningKeys({ USERS_DEV_KEY_SEED: "s1" }).development).toBe(true);
  });
});
