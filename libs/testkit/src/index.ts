// Test helpers shared by every project: finding the real Redis and Postgres (skip with a visible
// reason, or fail under REQUIRE_SERVICES=1), unique names so parallel files never collide, and
// waiting for things instead of sleeping.
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";

/** When "1", tests that need Redis or Postgres fail instead of skipping (CI sets it). */
export const REQUIRE_SERVICES = process.env.REQUIRE_SERVICES === "1";

export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";
export const DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres";

export function redisUrl(): string {
  return process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
}

/** URL of a Postgres server's maintenance database; tests create their own databases on it. */
export function postgresUrl(): string {
  return process.env.POSTGRES_URL ?? DEFAULT_POSTGRES_URL;
}

export interface ServiceProbe {
  readonly available: boolean;
  /** Why it is not available, for the skip message. */
  readonly reason: string;
  readonly url: string;
}

async function probe(url: string, check: () => Promise<void>, what: string): Promise<ServiceProbe> {
  try {
    await check();
    return { available: true, reason: "", url };
  } catch (error) {
    const reason = `${what} at ${url} does not answer (${(error as Error).message})`;
    if (REQUIRE_SERVICES) {
      throw new Error(`REQUIRE_SERVICES=1 but ${reason}`, { cause: error });
    }
    console.warn(`[skip] ${reason}: tests that need it are skipped`);
    return { available: false, reason, url };
  }
}

/** Probes Redis once; with REQUIRE_SERVICES=1 an unreachable Redis throws (the test file fails). */
export async function requireRedis(url = redisUrl()): Promise<ServiceProbe> {
  return probe(url, async () => {
    const client = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await client.connect();
      await client.ping();
    } finally {
      client.disconnect();
    }
  }, "Redis");
}

/** Probes Postgres once; with REQUIRE_SERVICES=1 an unreachable Postgres throws. */
export async function requirePostgres(url = postgresUrl()): Promise<ServiceProbe> {
  return probe(url, async () => {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query("select 1");
    } finally {
      await client.end().catch(() => {});
    }
  }, "Postgres");
}

/** A name no other test, worker or run will use: `<prefix>_<time>_<random>`, lower case, [a-z0-9_]. */
export function uniqueName(prefix: string): string {
  const safe = prefix.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  return `${safe}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
}

export interface TestDatabases {
  /** postgres:// URLs of the created databases. */
  readonly urls: string[];
  /** Drops every database (terminating leftover connections). */
  drop(): Promise<void>;
}

/** Creates `count` fresh databases on the Postgres server; drop them in afterAll. */
export async function createTestDatabases(count: number, prefix = "bo_test", serverUrl = postgresUrl()): Promise<TestDatabases> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  const names: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const name = uniqueName(`${prefix}_${i}`);
      await admin.query(`create database "${name}"`);
      names.push(name);
    }
  } finally {
    await admin.end();
  }
  const base = new URL(serverUrl);
  const urls = names.map((name) => {
    const u = new URL(base.toString());
    u.pathname = `/${name}`;
    return u.toString();
  });
  return {
    urls,
    async drop() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      try {
        for (const name of names) await c.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Polls `check` until it returns a truthy value or the deadline passes; returns that value. */
export async function waitFor<T>(check: () => T | Promise<T>, options: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<NonNullable<T>> {
  const { timeoutMs = 10_000, intervalMs = 20, what = "condition" } = options;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : String(last)})`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export { BENCHMARKS_FILE, machineDescription, percentile, writeBenchmarkSection } from "./benchmarks.ts";
export { freePort, hasRedisServer, startPrivateRedis, type PrivateRedis } from "./private-redis.ts";
