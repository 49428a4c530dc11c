// The recovery consumer of payment.captured.v1 leaves an event alone until the checkout that
// captured it had its chance (src/handlers/firehose-consumers.ts, recoveryWait).
import { describe, expect, it } from "vitest";
import { onRecoveryTick, recoveryWait } from "../src/handlers/firehose-consumers.ts";

describe("how long recovery waits before it looks at a captured payment", () => {
  it("when the event is fresh, it waits until the event is the delay old", () => {
    expect(recoveryWait(0, 2000, 10_000)).toBe(2000);
    expect(recoveryWait(1500, 2000, 10_000)).toBe(500);
  });

  it("when the consumer fell behind (the event is already that old), it does not wait at all", () => {
    expect(recoveryWait(2000, 2000, 10_000)).toBe(0);
    expect(recoveryWait(60_000, 2000, 10_000)).toBe(0);
  });

  it("never waits past a quarter of the visibility timeout, so the event is not redelivered while it waits", () => {
    expect(recoveryWait(0, 2000, 2000)).toBe(500);
    expect(recoveryWait(0, 2000, 100)).toBe(25);
  });

  it("when the publisher's clock is ahead of ours, it waits no longer than the delay; with no delay, never", () => {
    expect(recoveryWait(-30_000, 2000, 10_000)).toBe(2000);
    expect(recoveryWait(0, 0, 10_000)).toBe(0);
  });

  it("when events come due within one tick, they wake together on it, never past a quarter of the visibility timeout", () => {
    expect(onRecoveryTick(10_030, 2000, 10_000)).toBe(2070);
    expect(onRecoveryTick(10_090, 1940, 10_000)).toBe(2010);
    expect(onRecoveryTick(10_000, 2000, 10_000)).toBe(2000);
    expect(onRecoveryTick(10_030, 25, 100)).toBe(25);
    expect(onRecoveryTick(10_030, 0, 10_000)).toBe(0);
  });
});
