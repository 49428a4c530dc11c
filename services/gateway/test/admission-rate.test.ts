// The waiting room's adaptive admission rate (src/domain/admission-rate.ts), on the test's clock:
// it steers on the p99 of admitted buyers' checkout latency against the target and on 503s.
import { describe, expect, it } from "vitest";
import { createAdmissionGate, createAdmissionRate, type LoopLoad } from "../src/domain/admission-rate.ts";
import { createFakeBackend } from "./fake-backend.ts";
import { createTestGateway, sessionCookie } from "./helpers.ts";
import { waitFor } from "@boxoffice/testkit";

function controller(options: { initial?: number; min?: number; max?: number; load?: () => LoopLoad } = {}) {
  let now = 0;
  const rate = createAdmissionRate({ initial: 20, min: 1, max: 100, latencyTargetMs: 500, windowMs: 2000, loopLagTargetMs: 100, maxUtilization: 0.85, now: () => now, ...options });
  /** One 2 s window of checkout calls; then the window is judged. */
  const windowOf = (latencies: number[], overloads = 0) => {
    for (const latency of latencies) rate.observe(latency, false);
    for (let i = 0; i < overloads; i++) rate.observe(0, true);
    now += 2000;
    return rate.current();
  };
  return { rate, windowOf };
}

const fast = (n: number) => Array.from({ length: n }, () => 100);

describe("the adaptive admission rate", () => {
  it("when checkout p99 stays at most half the target, admissions double each window up to the maximum", () => {
    const { windowOf } = controller();
    expect(windowOf(fast(100))).toBe(40);
    expect(windowOf(fast(100))).toBe(80);
    expect(windowOf(fast(100))).toBe(100);
    expect(windowOf(fast(100))).toBe(100);
  });

  it("when this process's event loop lags past its target, admissions are cut in proportion even while checkout looks fast, and the next window is left to settle", () => {
    let loop: LoopLoad = { lagMs: 0, utilization: 0.3 };
    const { windowOf } = controller({ initial: 80, load: () => loop });
    loop = { lagMs: 400, utilization: 1 };
    expect(windowOf(fast(100)), "lag 4× the target: halved (at most)").toBe(40);
    expect(windowOf(fast(100)), "the settling window is not judged").toBe(40);
    loop = { lagMs: 125, utilization: 1 };
    expect(windowOf(fast(100)), "× 100/125").toBe(32);
  });

  it("while this process's event loop is busy past maxUtilization (or lags past half the target), fast checkouts do not raise admissions", () => {
    let loop: LoopLoad = { lagMs: 5, utilization: 0.95 };
    const { windowOf } = controller({ load: () => loop });
    expect(windowOf(fast(100))).toBe(20);
    loop = { lagMs: 60, utilization: 0.5 };
    expect(windowOf(fast(100))).toBe(20);
    loop = { lagMs: 5, utilization: 0.5 };
    expect(windowOf(fast(100)), "room again: it rises").toBe(40);
  });

  it("what the room uses is counted in buyers (their holds), not calls: a hold and an order per buyer do not let the rate run to four times what buyers use", () => {
    let now = 0;
    const rate = createAdmissionRate({ initial: 20, min: 1, max: 500, latencyTargetMs: 500, windowMs: 2000, loopLagTargetMs: 100, maxUtilization: 0.85, now: () => now });
    const window = () => {
      // 30 buyers a second: 60 holds and 60 orders in the 2 s window, all fast.
      for (let i = 0; i < 60; i++) {
        rate.observe(100, false, "hold");
        rate.observe(100, false, "order");
      }
      now += 2000;
      return rate.current();
    };
    expect(window()).toBe(40);
    expect(window(), "twice the 30 buyers a second who came, not twice 60 calls a second").toBe(60);
    expect(window()).toBe(60);
  });

  it("a rate the room is not using does not grow: a quiet event's few fast checkouts keep it near what they use", () => {
    const { windowOf } = controller();
    // 4 calls a window (2 a second): the rate stays at the initial 20 however long it lasts.
    for (let i = 0; i < 10; i++) expect(windowOf(fast(4))).toBe(20);
    // Then a spike of checkouts: the rate climbs from there, not from the maximum.
    expect(windowOf(fast(100))).toBe(40);
  });

  it("when checkout p99 is under the target but past half of it, admissions rise by a quarter", () => {
    const { windowOf } = controller();
    expect(windowOf(Array.from({ length: 100 }, () => 400))).toBe(25);
    expect(windowOf(Array.from({ length: 100 }, () => 300))).toBe(31.25);
  });

  it("when the slowest 1% of checkouts exceed the target (the median and p90 well under it), admissions are cut in proportion to the overshoot", () => {
    const { windowOf } = controller();
    // 98 fast, 2 slow: p90 is 100 ms, p99 is 900 ms: × 500/900.
    expect(windowOf([...fast(98), 900, 900])).toBeCloseTo(11.11, 2);
    // The next window's calls were admitted before the cut: not cut again for the same congestion.
    expect(windowOf([...fast(98), 2000, 2000])).toBeCloseTo(11.11, 2);
    // One slow call in a hundred is the 1% the p99 allows: admissions rise again.
    expect(windowOf([...fast(99), 900])).toBeCloseTo(22.22, 2);
    // One in fifty is over it.
    expect(windowOf([...fast(49), 900])).toBeCloseTo(12.35, 2);
  });

  it("a checkout is a hold and its order: holds and orders each under the target but together over it are cut", () => {
    const { rate, windowOf } = controller();
    // 300 ms holds and 300 ms orders: each call under 500 ms, a purchase 600 ms: × 500/600.
    for (let i = 0; i < 50; i++) {
      rate.observe(300, false, "hold");
      rate.observe(300, false, "order");
    }
    expect(windowOf([])).toBeCloseTo(16.67, 2);
    expect(windowOf(fast(10))).toBeCloseTo(16.67, 2); // the window after a cut is not judged
    // 100 ms each: 200 ms a purchase, at most half the target: doubled.
    for (let i = 0; i < 50; i++) {
      rate.observe(100, false, "hold");
      rate.observe(100, false, "order");
    }
    expect(windowOf([])).toBeCloseTo(33.33, 2);
  });

  it("when the p99 is far over the target, one window at most halves admissions", () => {
    const { windowOf } = controller();
    expect(windowOf([5000])).toBe(10);
    expect(windowOf([5000])).toBe(10); // the settling window
    expect(windowOf([5000])).toBe(5);
  });

  it("when checkout answers 503 or runs out of deadline, admissions are halved however fast the rest was, settling window or not", () => {
    const { windowOf } = controller();
    expect(windowOf(fast(1000), 1)).toBe(10);
    expect(windowOf([900])).toBeCloseTo(5.56, 2);
    expect(windowOf(fast(10), 1)).toBeCloseTo(2.78, 2);
  });

  it("never goes below the minimum or above the maximum, and a window without checkouts leaves the rate alone", () => {
    const { windowOf } = controller({ initial: 4, min: 2, max: 5 });
    expect(windowOf([], 1)).toBe(2);
    expect(windowOf([], 1)).toBe(2);
    expect(windowOf([])).toBe(2);
    expect(windowOf(fast(10))).toBe(4);
    for (let i = 0; i < 10; i++) windowOf(fast(10));
    expect(windowOf(fast(10))).toBe(5);
  });

  it("each judged window says what it was judged on", () => {
    let loop: LoopLoad = { lagMs: 0, utilization: 0.3 };
    const decisions: string[] = [];
    let now = 0;
    const rate = createAdmissionRate({ initial: 20, max: 100, latencyTargetMs: 500, windowMs: 2000, loopLagTargetMs: 100, load: () => loop, now: () => now, onWindow: (w) => decisions.push(w.decision) });
    const windowOf = (latencies: number[], overloads = 0) => {
      for (const latency of latencies) rate.observe(latency, false);
      for (let i = 0; i < overloads; i++) rate.observe(0, true);
      now += 2000;
      rate.current();
    };
    windowOf(fast(100)); // rise
    windowOf([900]); // slow
    windowOf([900]); // settling
    windowOf(fast(10), 1); // shed
    loop = { lagMs: 300, utilization: 1 };
    windowOf(fast(10)); // loop_lag
    windowOf(fast(10)); // settling
    loop = { lagMs: 5, utilization: 0.95 };
    windowOf(fast(10)); // held: the loop is full
    windowOf([]); // nothing to judge: not reported
    expect(decisions).toEqual(["rise", "slow", "settling", "shed", "loop_lag", "settling", "held"]);
  });

  it("a call that arrives after its window ended counts in the next one, not the judged one", () => {
    let now = 0;
    const rate = createAdmissionRate({ initial: 20, latencyTargetMs: 500, windowMs: 2000, now: () => now });
    for (let i = 0; i < 100; i++) rate.observe(100, false);
    now = 2500;
    rate.observe(5000, false); // the judged window had only the 100 ms calls: doubled
    expect(rate.current()).toBe(40);
    now = 4500;
    expect(rate.current()).toBe(20); // the 5 s call was in this window: halved
  });

  it("a hold is timed from the request's arrival: a slow admission check before the bus call counts against the target", async () => {
    let now = Date.parse("2030-06-01T10:00:00.000Z");
    const backend = createFakeBackend();
    const t = await createTestGateway({ CHECKOUT_LATENCY_TARGET_MS: "100", ADMISSION_RATE_INITIAL: "40" }, backend, { now: () => now });
    try {
      const email = "slow-before@rate.test";
      await t.gateway.app.inject({ method: "POST", url: "/api/users", payload: { email, password: "long-enough", displayName: "B" } });
      const cookie = sessionCookie(await t.gateway.app.inject({ method: "POST", url: "/api/session", payload: { email, password: "long-enough" } }));
      // The room's admission check waits on the catalogue for 300 ms; the hold's bus call itself is instant.
      const release = backend.holdGetEvent();
      const hold = t.gateway.app.inject({ method: "POST", url: "/api/events/100/holds", headers: { cookie }, payload: { quantity: 1 } });
      await waitFor(() => backend.calls.getEventSchedule > 0, { what: "the hold to be in its admission check" });
      await new Promise((resolve) => setTimeout(resolve, 300));
      release();
      expect((await hold).statusCode).toBe(201);
      const rate = t.gateway.context.admissionRate;
      expect(rate.current()).toBe(40);
      now += 2000;
      // Timing the bus call alone saw ~0 ms (under half the target: no cut); the buyer waited 300 ms.
      expect(rate.current(), "the window's hold took 3x the target: cut").toBeLessThan(40);
    } finally {
      await t.close();
    }
  });

  it("when this gateway sheds a checkout itself (its in-flight bound), the room's admission rate is halved", async () => {
    let now = Date.parse("2030-06-01T10:00:00.000Z");
    const backend = createFakeBackend();
    const t = await createTestGateway({ INFLIGHT_MAX_CHECKOUT: "1", ADMISSION_RATE_INITIAL: "40" }, backend, { now: () => now });
    try {
      const email = "shed@rate.test";
      await t.gateway.app.inject({ method: "POST", url: "/api/users", payload: { email, password: "long-enough", displayName: "B" } });
      const cookie = sessionCookie(await t.gateway.app.inject({ method: "POST", url: "/api/session", payload: { email, password: "long-enough" } }));
      // The first hold waits on the catalogue and keeps the one checkout slot; the second is shed.
      const release = backend.holdGetEvent();
      const first = t.gateway.app.inject({ method: "POST", url: "/api/events/100/holds", headers: { cookie }, payload: { quantity: 1 } });
      await waitFor(() => backend.calls.getEventSchedule > 0, { what: "the first hold to be in progress" });
      const shed = await t.gateway.app.inject({ method: "POST", url: "/api/events/100/holds", headers: { cookie }, payload: { quantity: 1 } });
      expect(shed.statusCode).toBe(503);
      expect(shed.json().error.code).toBe("BUSY");
      release();
      expect((await first).statusCode).toBe(201);
      const rate = t.gateway.context.admissionRate;
      expect(rate.current()).toBe(40);
      now += 2000;
      expect(rate.current(), "the window with a shed checkout is judged overloaded").toBe(20);
      // An operator sees the rate and why it moved.
      const metrics = (await t.gateway.app.inject({ method: "GET", url: "/metrics" })).body;
      expect(metrics).toMatch(/^gateway_admission_rate_per_second 20$/m);
      expect(metrics).toMatch(/^gateway_admission_windows_total\{decision="shed"\} 1$/m);
    } finally {
      await t.close();
    }
  });
});

describe("the admission gate", () => {
  it("is open while the event loop's lag is at most the target; closed above it, it lets one ask a second through so the room always moves", () => {
    let lag = 0;
    let now = 0;
    const admitting = createAdmissionGate({ lagMs: () => lag, lagTargetMs: 100, now: () => now });
    expect([admitting(), admitting(), admitting()]).toEqual([true, true, true]);
    lag = 250;
    expect(admitting(), "the first ask of the lag passes").toBe(true);
    now += 400;
    expect([admitting(), admitting()]).toEqual([false, false]);
    now += 600;
    expect([admitting(), admitting()], "a second later, one more").toEqual([true, false]);
    lag = 100;
    expect([admitting(), admitting()]).toEqual([true, true]);
  });
});
