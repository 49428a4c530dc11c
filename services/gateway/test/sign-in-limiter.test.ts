import { describe, expect, it } from "vitest";
import { createSignInLimiter } from "../src/sign-in-limiter.ts";

describe("the per-key attempt limiter", () => {
  it("blocks at maxFailures within the window and lets the key go once the oldest attempts leave it", () => {
    let t = 1_000;
    const limiter = createSignInLimiter({ maxFailures: 3, windowMs: 10_000, now: () => t });
    limiter.recordFailure("a");
    t += 4_000;
    limiter.recordFailure("a");
    expect(limiter.isBlocked("a")).toBe(false);
    limiter.recordFailure("a");
    expect(limiter.isBlocked("a")).toBe(true);
    expect(limiter.isBlocked("b")).toBe(false);
    t += 6_000; // the first attempt is exactly windowMs old: out
    expect(limiter.isBlocked("a")).toBe(false);
    limiter.recordFailure("a");
    expect(limiter.isBlocked("a")).toBe(true);
    limiter.reset("a");
    expect(limiter.isBlocked("a")).toBe(false);
  });

  it("keeps counting correctly across many attempts and compactions", () => {
    let t = 0;
    const limiter = createSignInLimiter({ maxFailures: 500, windowMs: 1_000, now: () => t });
    // 1 attempt per ms: at any time the window holds the last 1,000, so from 500 on it is blocked.
    for (let i = 0; i < 5_000; i++) {
      t = i;
      limiter.recordFailure("x");
      expect(limiter.isBlocked("x")).toBe(i + 1 >= 500);
    }
    t = 5_000 + 1_000; // every attempt has left the window
    expect(limiter.isBlocked("x")).toBe(false);
  });

  it("costs O(1) per call: 50,000 attempts from one address in a window stay cheap", () => {
    const limiter = createSignInLimiter({ maxFailures: 100_000_000, windowMs: 60_000 });
    for (let i = 0; i < 50_000; i++) {
      limiter.isBlocked("10.0.0.1");
      limiter.recordFailure("10.0.0.1");
    }
    expect(limiter.isBlocked("10.0.0.1")).toBe(false);
  });
});
