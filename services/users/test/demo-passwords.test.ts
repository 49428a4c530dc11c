import { parseConfig, refusePublicDefaults } from "@boxoffice/runtime";
import { describe, expect, it } from "vitest";
import { usersConfigSchema, usersPublicDefaults } from "../src/config.ts";

const production = {
  NODE_ENV: "production",
  BUS_URL: "memory://",
  USERS_SIGNING_KEYS: "[]",
  SEED_DEMO: "true",
};

describe("the demo accounts' public passwords", () => {
  it("when NODE_ENV=production seeds the demo accounts with their public passwords, start-up is refused naming both", () => {
    const config = parseConfig("users", usersConfigSchema, production);
    expect(() => refusePublicDefaults("users", config, usersPublicDefaults)).toThrow(/DEMO_ORGANIZER_PASSWORD[\s\S]*DEMO_OPERATOR_PASSWORD|DEMO_OPERATOR_PASSWORD[\s\S]*DEMO_ORGANIZER_PASSWORD/);
  });

  it("when NODE_ENV=production sets its own operator password, the operator is not refused", () => {
    const config = parseConfig("users", usersConfigSchema, { ...production, DEMO_OPERATOR_PASSWORD: "a-private-operator-secret" });
    expect(() => refusePublicDefaults("users", config, usersPublicDefaults)).toThrow(/DEMO_ORGANIZER_PASSWORD/);
    expect(() => refusePublicDefaults("users", config, usersPublicDefaults)).not.toThrow(/DEMO_OPERATOR_PASSWORD/);
  });
});
