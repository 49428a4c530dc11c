import { describe, expect, it } from "vitest";
import { z } from "zod";
import { commonConfigShape, ConfigError, parseConfig, refusePublicDefaults, withRedisCredentials } from "../src/index.ts";

const schema = z.object({ ...commonConfigShape, PORT: z.coerce.number().int().default(3000) });

describe("service configuration", () => {
  it("when the environment is empty, every field takes its documented default", () => {
    const config = parseConfig("test", schema, {});
    expect(config.BUS_URL).toBe("memory://");
    expect(config.FIREHOSE_URL).toBe("memory://");
    expect(config.RPC_DEADLINE_MS).toBe(5000);
    expect(config.MIGRATE_ON_START).toBe(true);
    expect(config.NODE_ID).toBeGreaterThanOrEqual(0);
    expect(config.NODE_ID).toBeLessThan(32);
    expect(config.PORT).toBe(3000);
  });

  it("when values are strings from the environment, numbers and booleans are parsed", () => {
    const config = parseConfig("test", schema, { NODE_ID: "7", MIGRATE_ON_START: "false", RPC_CONCURRENCY: "4" });
    expect(config).toMatchObject({ NODE_ID: 7, MIGRATE_ON_START: false, RPC_CONCURRENCY: 4 });
  });

  it("when BUS_ENCRYPTION_KEYS lists keys, they are split in order (the first encrypts); unset means none", () => {
    const a = "a".repeat(64);
    const b = "b".repeat(64);
    expect(parseConfig("test", schema, { BUS_ENCRYPTION_KEYS: `${a}, ${b}` }).BUS_ENCRYPTION_KEYS).toEqual([a, b]);
    expect(parseConfig("test", schema, {}).BUS_ENCRYPTION_KEYS).toEqual([]);
  });

  it("when a bus encryption key is too short to be a real key, the error names BUS_ENCRYPTION_KEYS", () => {
    expect(() => parseConfig("test", schema, { BUS_ENCRYPTION_KEYS: "secret" })).toThrow(/BUS_ENCRYPTION_KEYS: each key must be at least 32 characters/);
  });

  it("when REDIS_USERNAME/REDIS_PASSWORD are set, every redis URL without credentials gets them, others are untouched", () => {
    const config = { REDIS_USERNAME: "inventory", REDIS_PASSWORD: "p@ss/word" };
    expect(withRedisCredentials("redis://a:6379/0, rediss://b:6380", config)).toBe("redis://inventory:p%40ss%2Fword@a:6379/0,rediss://inventory:p%40ss%2Fword@b:6380");
    expect(withRedisCredentials("redis://own:secret@a:6379/0", config)).toBe("redis://own:secret@a:6379/0");
    expect(withRedisCredentials("memory://", config)).toBe("memory://");
    expect(withRedisCredentials("redis://a:6379", {})).toBe("redis://a:6379");
  });

  it("when NODE_ENV is production, public values are refused by name; elsewhere, and with real secrets, they pass", () => {
    const redisBus = { BUS_URL: "redis://r:6379", SECRET: "dev" };
    const publicDefaults = { SECRET: (c: { SECRET: string }) => c.SECRET === "dev" };
    expect(() => refusePublicDefaults("svc", { ...redisBus, NODE_ENV: "development" }, publicDefaults)).not.toThrow();
    expect(() => refusePublicDefaults("svc", { ...redisBus, NODE_ENV: "production" }, publicDefaults)).toThrow(/SECRET: is the public development value[\s\S]*BUS_ENCRYPTION_KEYS/);
    const ready = { ...redisBus, SECRET: "mine", NODE_ENV: "production", BUS_ENCRYPTION_KEYS: ["k".repeat(64)], SERVICE_IDENTITY_SECRET: "a".repeat(64), SERVICE_IDENTITIES: `svc=${"b".repeat(64)}` };
    expect(() => refusePublicDefaults("svc", ready, publicDefaults)).not.toThrow();
    // One process on the in-memory bus has no Redis to protect.
    expect(() => refusePublicDefaults("svc", { BUS_URL: "memory://", NODE_ENV: "production" })).not.toThrow();
  });

  it("when a variable is invalid, the error names it", () => {
    let error: unknown;
    try {
      parseConfig("inventory", schema, { NODE_ID: "32", LOG_LEVEL: "loud" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const variables = (error as ConfigError).issues.map((i) => i.variable).sort();
    expect(variables).toEqual(["LOG_LEVEL", "NODE_ID"]);
    expect((error as Error).message).toContain("invalid configuration for inventory");
  });
});
