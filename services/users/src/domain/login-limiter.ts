// Login rate limiting: failed attempts are counted per email and per client address in fixed
// windows; once a counter reaches its limit, logins for that key are refused with RATE_LIMITED
// until the window ends. Each attempt takes its slot *before* the password is checked (INCR first)
// and gives it back when it succeeds, so twenty guesses sent at once still get only five checks,
// and a legitimate user is never slowed down by their own successful logins. In distributed mode
// the counters live in Redis (shared by every instance); in one process they live in memory.
import type { Redis } from "ioredis";

export interface LoginLimits {
  /** Failures per email per window. Default 5. */
  perEmail: number;
  /** Failures per client address per window. Default 20. */
  perAddress: number;
  /** Window length in seconds. Default 900 (15 minutes). */
  windowSeconds: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { perEmail: 5, perAddress: 20, windowSeconds: 900 };

/** A counter store: fixed windows that start at the first failure. */
export interface FailureCounter {
  count(key: string): Promise<number>;
  /** Adds one failure and returns the new count. */
  increment(key: string, windowSeconds: number): Promise<number>;
  /** Takes one back (an attempt that succeeded). */
  decrement(key: string): Promise<void>;
  reset(key: string): Promise<void>;
  close(): Promise<void>;
}

export function createMemoryFailureCounter(now: () => number = Date.now): FailureCounter {
  const counters = new Map<string, { count: number; expiresAt: number }>();
  const live = (key: string) => {
    const entry = counters.get(key);
    if (entry && entry.expiresAt <= now()) {
      counters.delete(key);
      return undefined;
    }
    return entry;
  };
  return {
    async count(key) {
      return live(key)?.count ?? 0;
    },
    async increment(key, windowSeconds) {
      const entry = live(key) ?? { count: 0, expiresAt: now() + windowSeconds * 1000 };
      entry.count += 1;
      counters.set(key, entry);
      return entry.count;
    },
    async decrement(key) {
      const entry = live(key);
      if (entry && entry.count > 0) entry.count -= 1;
    },
    async reset(key) {
      counters.delete(key);
    },
    async close() {
      counters.clear();
    },
  };
}

/** INCR + EXPIRE (set only when the key is new) in one MULTI, so a crash never leaves a counter without expiry. */
export function createRedisFailureCounter(redis: Redis, prefix: string): FailureCounter {
  const k = (key: string) => `${prefix}:login-failures:${key}`;
  return {
    async count(key) {
      return Number((await redis.get(k(key))) ?? 0);
    },
    async increment(key, windowSeconds) {
      const result = await redis.multi().incr(k(key)).expire(k(key), windowSeconds, "NX").exec();
      return Number(result?.[0]?.[1] ?? 0);
    },
    async decrement(key) {
      // Only while the window lives: DECR on an expired (missing) key would make a key without expiry.
      await redis.eval("if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end return 0", 1, k(key));
    },
    async reset(key) {
      await redis.del(k(key));
    },
    async close() {
      redis.disconnect();
    },
  };
}

export interface LoginLimiter {
  /** Takes an attempt slot for this email and address; false when either has used up its failures. */
  begin(email: string, address: string | undefined): Promise<boolean>;
  /** The attempt succeeded: the email starts afresh and the address gets its slot back. */
  succeeded(email: string, address: string | undefined): Promise<void>;
}

export function createLoginLimiter(counter: FailureCounter, limits: LoginLimits = DEFAULT_LOGIN_LIMITS): LoginLimiter {
  return {
    async begin(email, address) {
      const [byEmail, byAddress] = await Promise.all([
        counter.increment(`email:${email}`, limits.windowSeconds),
        address ? counter.increment(`addr:${address}`, limits.windowSeconds) : 0,
      ]);
      return byEmail <= limits.perEmail && byAddress <= limits.perAddress;
    },
    async succeeded(email, address) {
      await Promise.all([counter.reset(`email:${email}`), address ? counter.decrement(`addr:${address}`) : undefined]);
    },
  };
}
