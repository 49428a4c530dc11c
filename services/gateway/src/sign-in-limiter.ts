// Repeated failed sign-ins for one email from one address are refused for a while (429). Kept per
// instance: a determined attacker spread over instances gets a few more tries, which the slow
// password hash in the users service already makes expensive. The same counter bounds queue joins
// and sign-ups per address.
//
// Each key keeps the times of its attempts in the window, oldest first: a check drops the expired
// ones from the front, so a call costs O(1) amortised however many attempts the window holds (the
// earlier version filtered the whole list on every call, which made 20,000 joins from one address
// in a minute quadratic: 23% of an embedded gateway's CPU during a join flood).

export interface SignInLimiter {
  isBlocked(key: string): boolean;
  recordFailure(key: string): void;
  reset(key: string): void;
}

interface Attempts {
  /** Attempt times, oldest first; entries before `head` have left the window. */
  times: number[];
  head: number;
}

/** Distinct keys kept at most (the oldest key is forgotten first under a flood of new ones). */
const MAX_KEYS = 100_000;

export function createSignInLimiter(options: { maxFailures: number; windowMs: number; now?: () => number }): SignInLimiter {
  const now = options.now ?? Date.now;
  const attempts = new Map<string, Attempts>();

  /** The key's attempts still in the window, or undefined when it has none. */
  function recent(key: string): Attempts | undefined {
    const entry = attempts.get(key);
    if (!entry) return undefined;
    const since = now() - options.windowMs;
    const { times } = entry;
    while (entry.head < times.length && times[entry.head] <= since) entry.head++;
    if (entry.head === times.length) {
      attempts.delete(key);
      return undefined;
    }
    // Compact once the dead prefix is most of the array, so memory follows the window.
    if (entry.head > 64 && entry.head * 2 > times.length) {
      entry.times = times.slice(entry.head);
      entry.head = 0;
    }
    return entry;
  }

  const count = (entry: Attempts | undefined) => (entry ? entry.times.length - entry.head : 0);

  return {
    isBlocked: (key) => count(recent(key)) >= options.maxFailures,
    recordFailure(key) {
      let entry = recent(key);
      if (!entry) {
        entry = { times: [], head: 0 };
        attempts.set(key, entry);
        if (attempts.size > MAX_KEYS) attempts.delete(attempts.keys().next().value as string);
      }
      entry.times.push(now());
      // Only the newest maxFailures attempts can matter to isBlocked.
      if (count(entry) > options.maxFailures) entry.head++;
    },
    reset: (key) => void attempts.delete(key),
  };
}
