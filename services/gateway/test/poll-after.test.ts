// When a waiting buyer is told to ask again (room-store.ts pollAfterSecondsFor; the Lua script mirrors it).
import { describe, expect, it } from "vitest";
import { POLL_AFTER_MAX_SECONDS, POLL_AFTER_MIN_SECONDS, pollAfterSecondsFor } from "../src/store/room-store.ts";

const clock = { now: 10_000, salesStartAt: 0, admissionTtlMs: 600_000, ratePerSecond: 16, maxConcurrent: 1000 };

describe("pollAfterSeconds", () => {
  it("is the minimum at the front of the line and grows with the place, never past the maximum", () => {
    expect(pollAfterSecondsFor("waiting", 0, clock)).toBe(POLL_AFTER_MIN_SECONDS);
    let previousBand = 0;
    for (const rank of [100, 1_000, 5_000]) {
      const values = Array.from({ length: 50 }, (_, i) => pollAfterSecondsFor("waiting", rank + i, clock));
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      expect(mean).toBeGreaterThan(previousBand);
      previousBand = mean;
    }
    for (let rank = 0; rank < 40_000; rank += 97) expect(pollAfterSecondsFor("waiting", rank, clock)).toBeLessThanOrEqual(POLL_AFTER_MAX_SECONDS);
  });

  it("asks 40,000 waiting buyers for fewer than 1,000 polls a second behind a room admitting 68 a second, the front still every 2 s", () => {
    // Half of the expected wait, not a quarter (1,420 a second): in one process those polls slowed the admitted buyers' checkouts.
    const room = { ...clock, ratePerSecond: 68 };
    let pollsPerSecond = 0;
    for (let rank = 0; rank < 40_000; rank++) pollsPerSecond += 1 / pollAfterSecondsFor("waiting", rank, room);
    expect(pollsPerSecond).toBeLessThan(1_000);
    expect(pollsPerSecond).toBeGreaterThan(500);
    // The buyers due within 4 s (rank / rate / 2 ≤ 2 s) still ask every 2 s.
    for (let rank = 0; rank < 4 * 68 * 0.75; rank++) expect(pollAfterSecondsFor("waiting", rank, room)).toBe(POLL_AFTER_MIN_SECONDS);
  });

  it("with a floor under the planning rate, a room cut to 12 a second asks as one at the floor: 40,000 buyers about 1,150 times a second, buyers near the front within seconds", () => {
    // The 40,000-buyer on-sale: told by 12-50 a second, buyers came back 90-120 s later while the room, at 200 a second by then, had nobody to admit.
    const cut = { ...clock, ratePerSecond: 12 };
    const floored = { ...cut, pollRateFloor: 100 };
    const pollsPerSecond = (room: typeof floored | typeof cut) => {
      let sum = 0;
      for (let rank = 0; rank < 40_000; rank++) sum += 1 / pollAfterSecondsFor("waiting", rank, room);
      return sum;
    };
    expect(pollsPerSecond(cut)).toBeLessThan(500);
    expect(pollsPerSecond(floored)).toBeGreaterThan(1_100);
    expect(pollsPerSecond(floored)).toBeLessThan(1_200);
    // 3,000 places back: half of 250 s by the rate alone (capped: 90-120 s), half of 30 s by the floor.
    expect(pollAfterSecondsFor("waiting", 3_000, cut)).toBeGreaterThanOrEqual(90);
    expect(pollAfterSecondsFor("waiting", 3_000, floored)).toBeLessThanOrEqual(19);
    // A rate above the floor is used as it is.
    expect(pollAfterSecondsFor("waiting", 3_000, { ...clock, ratePerSecond: 300, pollRateFloor: 100 })).toBe(pollAfterSecondsFor("waiting", 3_000, { ...clock, ratePerSecond: 300 }));
  });

  it("spreads the buyers past the cap over the last quarter of it, so they do not come back in one wave", () => {
    const values = Array.from({ length: 1_000 }, (_, i) => pollAfterSecondsFor("waiting", 20_000 + i, clock));
    for (const value of values) {
      expect(value).toBeGreaterThanOrEqual(Math.floor(POLL_AFTER_MAX_SECONDS * 0.75));
      expect(value).toBeLessThanOrEqual(POLL_AFTER_MAX_SECONDS);
    }
    // Every second of the band is used, none by more than a few per cent of the buyers.
    const perSecond = new Map<number, number>();
    for (const value of values) perSecond.set(value, (perSecond.get(value) ?? 0) + 1);
    expect(perSecond.size).toBeGreaterThanOrEqual(25);
    expect(Math.max(...perSecond.values())).toBeLessThan(80);
  });

  it("before opening, a quarter of the time left (2 s at least)", () => {
    expect(pollAfterSecondsFor("waiting", null, { ...clock, now: 0, salesStartAt: 60_000 })).toBe(15);
    expect(pollAfterSecondsFor("waiting", null, { ...clock, now: 59_000, salesStartAt: 60_000 })).toBe(2);
  });

  it("in the last seconds before opening, a pre-queue buyer is told to come back at their turn: 20,000 of them ask over 20 s after opening, the front first, not every 2 s", () => {
    const early = { ...clock, now: 0, salesStartAt: 60_000 };
    expect(pollAfterSecondsFor("waiting", null, early, { key: 0.9, waiting: 20_000 })).toBe(15); // far from opening: a quarter of the time left
    const late = { ...clock, now: 55_000, salesStartAt: 60_000 };
    const told = Array.from({ length: 20_000 }, (_, i) => pollAfterSecondsFor("waiting", null, late, { key: i / 20_000, waiting: 20_000 }));
    expect(told[0]).toBe(5); // the front: at opening
    expect(told.at(-1)).toBe(25); // the back: 20 s later
    const perSecond = new Map<number, number>();
    for (const value of told) perSecond.set(value, (perSecond.get(value) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(1000);
    // A small pre-queue comes back at opening; the spread never passes a minute.
    expect(pollAfterSecondsFor("waiting", null, late, { key: 0.99, waiting: 2 })).toBe(6); // (rounded up)
    expect(pollAfterSecondsFor("waiting", null, late, { key: 0.99, waiting: 1_000_000 })).toBe(65);
  });
});
