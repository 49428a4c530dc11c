// Login rate limiting. Failed attempts are counted per (email, client address) pair and per
// address. A pair that failed `perPair` times must wait before its next attempt, and every further
// failure doubles the wait (up to `delayMaxSeconds`): a guesser slows down exponentially, while
// failures sent from another address never lock the account's owner out (the hard per-email lock
// this replaces let anyone lock any account with five wrong passwords). An address that failed
// `perAddress` times across emails within the window is refused until the window ends. Each attempt
// takes its slot *before* the password is checked (INCR first, and past the free attempts one
// attempt at a time per pair), so guesses sent at once get no more checks than guesses sent one by
// one; a success gives the slots back. In distributed mode the counters live in Redis (shared by
// every instance); in one process they live in memory.
import type { Redis } from "ioredis";

export interface LoginLimits {
  /** Failures per (email, address) before each further attempt must wait. Default 5. */
  perPair: number;
  /** Failures per client address per window, across emails. Default 20. */
  perAddress: number;
  /** How long failures are remembered: the address's fixed window, a pair's time since its last failure. Default 900 s. */
  windowSeconds: number;
  /** The wait after `perPair` failures; it doubles with each further failure. Default 30 s. */
  delayBaseSeconds: number;
  /** The longest wait. Default 900 s. */
  delayMaxSeconds: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { perPair: 5, perAddress: 20, windowSeconds: 900, delayBaseSeconds: 30, delayMaxSeconds: 900 };

/** The wait before the next attempt of a pair that has failed `failures` times (0 while under the limit). */
export function loginDelaySeconds(failures: number, limits: Pick<LoginLimits, "perPair" | "delayBaseSeconds" | "delayMaxSeconds">): number {
  if (failures < limits.perPair) return 0;
  return Math.min(limits.delayMaxSeconds, limits.delayBaseSeconds * 2 ** Math.min(failures - limits.perPair, 30));
}

/** What a pair's gate says to an attempt past the free ones. */
export type GateClaim = { state: "claimed" } | { state: "closed"; secondsLeft: number } | { state: "none" };

/**
 * A counter store: windows that start at the first failure (or at the last, `sliding`), and gates —
 * a time before which a key's next attempt must wait, kept `ttlSeconds` so that "the wait is over"
 * can be told apart from "no failure has been recorded yet".
 */
export interface FailureCounter {
  count(key: string): Promise<number>;
  /** Adds one failure and returns the new count. */
  increment(key: string, windowSeconds: number, options?: { sliding?: boolean }): Promise<number>;
  /** Takes one back (an attempt that succeeded or was refused). */
  decrement(key: string): Promise<void>;
  reset(key: string): Promise<void>;
  /** Closes the gate of `key` for `seconds` from now. */
  closeGate(key: string, seconds: number, ttlSeconds: number): Promise<void>;
  /** Atomically: a gate whose wait is over is claimed (closed again for `seconds`); else how it stands. */
  claimGate(key: string, seconds: number, ttlSeconds: number): Promise<GateClaim>;
  clearGate(key: string): Promise<void>;
  close(): Promise<void>;
}

export function createMemoryFailureCounter(now: () => number = Date.now): FailureCounter {
  const counters = new Map<string, { count: number; expiresAt: number }>();
  const gates = new Map<string, { openAt: number; expiresAt: number }>();
  const live = (key: string) => {
    const entry = counters.get(key);
    if (entry && entry.expiresAt <= now()) {
      counters.delete(key);
      return undefined;
    }
    return entry;
  };
  const gateOf = (key: string) => {
    const gate = gates.get(key);
    if (gate && gate.expiresAt <= now()) {
      gates.delete(key);
      return undefined;
    }
    return gate;
  };
  return {
    async count(key) {
      return live(key)?.count ?? 0;
    },
    async increment(key, windowSeconds, options) {
      const entry = live(key) ?? { count: 0, expiresAt: now() + windowSeconds * 1000 };
      entry.count += 1;
      if (options?.sliding) entry.expiresAt = now() + windowSeconds * 1000;
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
    async closeGate(key, seconds, ttlSeconds) {
      gates.set(key, { openAt: now() + seconds * 1000, expiresAt: now() + ttlSeconds * 1000 });
    },
    async claimGate(key, seconds, ttlSeconds) {
      const gate = gateOf(key);
      if (!gate) return { state: "none" };
      if (gate.openAt > now()) return { state: "closed", secondsLeft: Math.ceil((gate.openAt - now()) / 1000) };
      gates.set(key, { openAt: now() + seconds * 1000, expiresAt: now() + ttlSeconds * 1000 });
      return { state: "claimed" };
    },
    async clearGate(key) {
      gates.delete(key);
    },
    async close() {
      counters.clear();
      gates.clear();
    },
  };
}

// A gate is a key holding the epoch ms it opens at; claiming reads and re-closes it in one step.
const CLAIM_GATE = `local open = redis.call('get', KEYS[1])
if not open then return -1 end
local now = tonumber(ARGV[1])
if tonumber(open) > now then return tonumber(open) - now end
redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 0`;

/** INCR + EXPIRE in one MULTI, so a crash never leaves a counter without expiry; gates are keys with a TTL. */
export function createRedisFailureCounter(redis: Redis, prefix: string): FailureCounter {
  const k = (key: string) => `${prefix}:login-failures:${key}`;
  const g = (key: string) => `${prefix}:login-gate:${key}`;
  return {
    async count(key) {
      return Number((await redis.get(k(key))) ?? 0);
    },
    async increment(key, windowSeconds, options) {
      const multi = redis.multi().incr(k(key));
      const result = await (options?.sliding ? multi.expire(k(key), windowSeconds) : multi.expire(k(key), windowSeconds, "NX")).exec();
      return Number(result?.[0]?.[1] ?? 0);
    },
    async decrement(key) {
      // Only while the window lives: DECR on an expired (missing) key would make a key without expiry.
      await redis.eval("if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end return 0", 1, k(key));
    },
    async reset(key) {
      await redis.del(k(key));
    },
    async closeGate(key, seconds, ttlSeconds) {
      await redis.set(g(key), String(Date.now() + seconds * 1000), "PX", ttlSeconds * 1000);
    },
    async claimGate(key, seconds, ttlSeconds) {
      const now = Date.now();
      const left = Number(await redis.eval(CLAIM_GATE, 1, g(key), String(now), String(now + seconds * 1000), String(ttlSeconds * 1000)));
      if (left < 0) return { state: "none" };
      return left === 0 ? { state: "claimed" } : { state: "closed", secondsLeft: Math.ceil(left / 1000) };
    },
    async clearGate(key) {
      await redis.del(g(key));
    },
    async close() {
      redis.disconnect();
    },
  };
}

export type LoginAttempt = { allowed: true; failuresBefore: number } | { allowed: false; retryAfterSeconds: number };

export interface LoginLimiter {
  /** Takes an attempt slot for this email and address, or says how long to wait. */
  begin(email: string, address: string | undefined): Promise<LoginAttempt>;
  /** The attempt failed: past the free attempts, the pair now waits (longer each time). */
  failed(email: string, address: string | undefined, attempt: { failuresBefore: number }): Promise<void>;
  /** The attempt succeeded: the pair starts afresh and the address gets its slot back. */
  succeeded(email: string, address: string | undefined): Promise<void>;
}

export function createLoginLimiter(counter: FailureCounter, limits: LoginLimits = DEFAULT_LOGIN_LIMITS): LoginLimiter {
  // Calls without an address (services, tests) share one pair per email.
  const pairOf = (email: string, address: string | undefined) => `pair:${email}|${address ?? "-"}`;
  // A gate outlives its wait, so the attempt after the wait finds it open rather than missing.
  const gateTtl = limits.windowSeconds + limits.delayMaxSeconds;
  return {
    async begin(email, address) {
      const pair = pairOf(email, address);
      const failuresBefore = (await counter.increment(pair, limits.windowSeconds, { sliding: true })) - 1;
      const delay = loginDelaySeconds(failuresBefore, limits);
      if (delay > 0) {
        // Past the free attempts, one attempt per wait: it claims the open gate (closing it again),
        // so a burst sent the moment a wait ends still gets one check. No gate yet means the free
        // attempts are still in flight: their failures have not closed it.
        const gate = await counter.claimGate(pair, delay, gateTtl);
        if (gate.state !== "claimed") {
          await counter.decrement(pair);
          return { allowed: false, retryAfterSeconds: gate.state === "closed" ? Math.max(1, gate.secondsLeft) : limits.delayBaseSeconds };
        }
      }
      if (address && (await counter.increment(`addr:${address}`, limits.windowSeconds)) > limits.perAddress) {
        await counter.decrement(pair);
        return { allowed: false, retryAfterSeconds: limits.windowSeconds };
      }
      return { allowed: true, failuresBefore };
    },
    async failed(email, address, attempt) {
      // This failure makes failuresBefore + 1; from the perPair-th on, the next attempt waits, twice as long each time.
      const delay = loginDelaySeconds(attempt.failuresBefore + 1, limits);
      if (delay > 0) await counter.closeGate(pairOf(email, address), delay, gateTtl);
    },
    async succeeded(email, address) {
      const pair = pairOf(email, address);
      await Promise.all([counter.reset(pair), counter.clearGate(pair), address ? counter.decrement(`addr:${address}`) : undefined]);
    },
  };
}
