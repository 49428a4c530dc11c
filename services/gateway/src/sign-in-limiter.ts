// Repeated failed sign-ins for one email from one address are refused for a while (429). Kept per
// instance: a determined attacker spread over instances gets a few more tries, which the slow
// password hash in the users service already makes expensive.

export interface SignInLimiter {
  isBlocked(key: string): boolean;
  recordFailure(key: string): void;
  reset(key: string): void;
}

export function createSignInLimiter(options: { maxFailures: number; windowMs: number; now?: () => number }): SignInLimiter {
  const now = options.now ?? Date.now;
  const failures = new Map<string, number[]>();

  function recent(key: string): number[] {
    const since = now() - options.windowMs;
    const list = (failures.get(key) ?? []).filter((at) => at > since);
    if (list.length === 0) failures.delete(key);
    else failures.set(key, list);
    return list;
  }

  return {
    isBlocked: (key) => recent(key).length >= options.maxFailures,
    recordFailure(key) {
      const list = recent(key);
      list.push(now());
      failures.set(key, list);
      // Bound memory under a flood of distinct keys.
      if (failures.size > 100_000) failures.delete(failures.keys().next().value as string);
    },
    reset: (key) => void failures.delete(key),
  };
}
