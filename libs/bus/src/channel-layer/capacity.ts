// Per-channel capacities: the first matching pattern wins, otherwise the default.

export type CapacityRule = [pattern: string | RegExp, capacity: number];

function globToRegExp(glob: string): RegExp {
  let source = "";
  for (const ch of glob) {
    if (ch === "*") source += ".*";
    else if (ch === "?") source += ".";
    else source += ch.replace(/[.+^${}()|[\]\\-]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

/** Returns a lookup from channel name to capacity, caching answers because names repeat a lot. */
export function createCapacityLookup(defaultCapacity: number, rules: CapacityRule[]): (channel: string) => number {
  const compiled = rules.map(([pattern, capacity]) => ({ test: typeof pattern === "string" ? globToRegExp(pattern) : pattern, capacity }));
  const cache = new Map<string, number>();
  return (channel) => {
    const hit = cache.get(channel);
    if (hit !== undefined) return hit;
    let capacity = defaultCapacity;
    for (const rule of compiled) {
      rule.test.lastIndex = 0;
      if (rule.test.test(channel)) {
        capacity = rule.capacity;
        break;
      }
    }
    if (cache.size > 10_000) cache.clear();
    cache.set(channel, capacity);
    return capacity;
  };
}
