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
  const limits = { perPair: 2, perAddress: 100, windowSeconds: 600, delayBaseSeconds: 30, delayMaxSeconds: 100 };

  it("when a pair used up its free attempts, each further failure doubles its wait up to the cap; a success starts it afresh", async () => {
    let now = 0;
    const limiter = createLoginLimiter(createMemoryFailureCounter(() => now), limits);
    const fail = async () => {
      const attempt = await limiter.begin("a@x.io", "10.0.0.1");
      if (!attempt.allowed) throw new Error(`expected an attempt, was told to wait ${attempt.retryAfterSeconds} s`);
      await limiter.failed("a@x.io", "10.0.0.1", attempt);
    };
    await fail();
    await fail();
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      const refused = await limiter.begin("a@x.io", "10.0.0.1");
      if (refused.allowed) throw new Error("expected a wait after the free attempts");
      waits.push(refused.retryAfterSeconds);
      now += refused.retryAfterSeconds * 1000;
      await fail();
    }
    expect(waits).toEqual([30, 60, 100, 100]);
    expect(await limiter.begin("a@x.io", "10.0.0.2")).toMatchObject({ allowed: true });
    now += 100_000;
    const ok = await limiter.begin("a@x.io", "10.0.0.1");
    expect(ok.allowed).toBe(true);
    await limiter.succeeded("a@x.io", "10.0.0.1");
    expect(await limiter.begin("a@x.io", "10.0.0.1")).toMatchObject({ allowed: true, failuresBefore: 0 });
  });

  it("when the wait is over and several attempts arrive at once, only one is checked", async () => {
    let now = 0;
    const limiter = createLoginLimiter(createMemoryFailureCounter(() => now), limits);
    for (let i = 0; i < 2; i++) {
      const attempt = await limiter.begin("b@x.io", "10.0.0.1");
      if (attempt.allowed) await limiter.failed("b@x.io", "10.0.0.1", attempt);
    }
    now += 30_000;
    const attempts = await Promise.all(Array.from({ length: 5 }, () => limiter.begin("b@x.io", "10.0.0.1")));
    expect(attempts.filter((a) => a.allowed)).toHaveLength(1);
  });

  it("when an address logs in successfully, its attempt does not count against the address", async () => {
    const limiter = createLoginLimiter(createMemoryFailureCounter(), { ...limits, perPair: 5, perAddress: 2 });
    for (let i = 0; i < 5; i++) {
      expect(await limiter.begin(`u${i}@x.io`, "10.0.0.1")).toMatchObject({ allowed: true });
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
