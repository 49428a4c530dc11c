import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadPlatformConfig, startEmbeddedPlatform, type EmbeddedPlatform } from "@boxoffice/platform";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runOnSale } from "../src/index.ts";

/** What every spike must keep: no unexpected answer, no 500, no 503 without Retry-After, every seat sold once. */
function expectSoldExactly(report: Awaited<ReturnType<typeof runOnSale>>): void {
  expect(report.errors, "unexpected answers").toEqual([]);
  expect(report.serverErrors).toBe(0);
  expect(report.busyWithoutRetryAfter).toBe(0);
  expect(report.ticketsSold).toBe(report.capacity);
}

// The load gate: a bounded on-sale spike against the embedded platform, on every `npm test`.
describe("on-sale spike through the HTTP API", () => {
  let platform: EmbeddedPlatform;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "boxoffice-load-"));
    const config = loadPlatformConfig({ PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir, LOG_LEVEL: "error" });
    // Accounts are set up before the sale; a cheap KDF keeps that part short (the spike is holds and orders).
    platform = await startEmbeddedPlatform(config, { env: { USERS_SCRYPT_LOG_N: "11" }, demoEvents: [] });
  });

  afterAll(async () => {
    await platform?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("when 80 buyers race for 40 seats, exactly 40 are sold, nobody gets a 500, and the rest hear sold out", async () => {
    const report = await runOnSale({ baseUrl: platform.url, buyers: 80, concurrency: 16, seats: 40, quantity: 2, maxDurationMs: 100_000 });
    console.log(JSON.stringify(report));

    expectSoldExactly(report);
    expect(report.outcomes.bought).toBe(report.capacity / 2);
    expect(report.seatsAvailableAfter).toBe(0);
    expect(report.outcomes.bought + report.outcomes.sold_out + report.outcomes.busy).toBe(80);
  });

  it("when 80 buyers arrive open loop (200 a second, not waiting for each other) for 40 seats, exactly 40 are sold and nobody gets a 500", async () => {
    const report = await runOnSale({ baseUrl: platform.url, buyers: 80, concurrency: 1, arrivalRatePerSecond: 200, seats: 40, quantity: 2, maxDurationMs: 100_000 });
    console.log(JSON.stringify(report));

    expectSoldExactly(report);
    expect(report.outcomes.bought).toBe(report.capacity / 2);
    expect(report.peakInFlight, "buyers in flight at once: the open loop does not wait for answers").toBeGreaterThan(1);
    expect(report.outcomes.bought + report.outcomes.sold_out + report.outcomes.busy).toBe(80);
  });

  it("when 60 buyers line up in the waiting room before a 30-seat event opens, each is admitted in turn, exactly 30 seats sell and the rest hear sold out", async () => {
    const report = await runOnSale({ baseUrl: platform.url, buyers: 60, concurrency: 60, seats: 30, quantity: 1, salesOpenInSeconds: 3, maxDurationMs: 100_000 });
    console.log(JSON.stringify(report));

    expectSoldExactly(report);
    expect(report.queued).toBe(60);
    expect(report.pollsRateLimited).toBe(0);
    expect(report.outcomes.bought).toBe(30);
    expect(report.outcomes.bought + report.outcomes.sold_out + report.outcomes.busy).toBe(60);
  });
});
