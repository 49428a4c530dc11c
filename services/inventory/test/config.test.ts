import { ConfigError, parseConfig } from "@boxoffice/runtime";
import { describe, expect, it } from "vitest";
import { inventoryConfigSchema } from "../src/index.ts";

describe("inventory configuration", () => {
  it("when nothing is set, holds last 600 seconds and sections get 16 sub-counters", () => {
    const config = parseConfig("inventory", inventoryConfigSchema, {});
    expect(config.HOLD_TTL_SECONDS).toBe(600);
    expect(config.INVENTORY_COUNTER_SLOTS).toBe(16);
  });

  it("when a variable is malformed, start-up fails naming it", () => {
    const error = (() => {
      try {
        parseConfig("inventory", inventoryConfigSchema, { HOLD_TTL_SECONDS: "soon" });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => i.variable)).toEqual(["HOLD_TTL_SECONDS"]);
  });
});
