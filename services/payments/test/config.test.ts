import { ConfigError, parseConfig } from "@boxoffice/runtime";
import { describe, expect, it } from "vitest";
import { paymentsConfigSchema } from "../src/index.ts";

describe("payments configuration", () => {
  it("when nothing is set, the simulated processor answers at once and never fails", () => {
    const config = parseConfig("payments", paymentsConfigSchema, {});
    expect(config.PAYMENTS_LATENCY_MS).toBe(0);
    expect(config.PAYMENTS_FAIL_RATE).toBe(0);
  });

  it("when the failure rate is not a probability, start-up fails naming it", () => {
    expect(() => parseConfig("payments", paymentsConfigSchema, { PAYMENTS_FAIL_RATE: "2" })).toThrow(ConfigError);
    try {
      parseConfig("payments", paymentsConfigSchema, { PAYMENTS_FAIL_RATE: "2", PAYMENTS_LATENCY_MS: "-1" });
    } catch (error) {
      expect((error as ConfigError).issues.map((i) => i.variable).sort()).toEqual(["PAYMENTS_FAIL_RATE", "PAYMENTS_LATENCY_MS"]);
    }
  });

  it("when nothing is set, charges are grouped up to 64 a statement without waiting for company; 1 turns grouping off, 0 is refused", () => {
    const config = parseConfig("payments", paymentsConfigSchema, {});
    expect(config.PAYMENTS_BATCH_MAX).toBe(64);
    expect(config.PAYMENTS_BATCH_WAIT_MS).toBe(0);
    expect(parseConfig("payments", paymentsConfigSchema, { PAYMENTS_BATCH_MAX: "1" }).PAYMENTS_BATCH_MAX).toBe(1);
    expect(() => parseConfig("payments", paymentsConfigSchema, { PAYMENTS_BATCH_MAX: "0" })).toThrow(ConfigError);
  });
});
