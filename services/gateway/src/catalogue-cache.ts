// A per-instance cache for the read-heavy pages (event list, event page): entries live about a
// second, a hundred concurrent misses for one key make one bus call (they share its promise), and
// the firehose invalidates entries early. Values are kept serialised, so a hit costs no JSON work.

export interface CatalogueCacheOptions {
  /** Milliseconds an entry is served. 0 disables caching (coalescing still applies). */
  readonly ttlMs: number;
  /** Upper bound on entries; the oldest are dropped first. */
  readonly maxEntries?: number;
  readonly now?: () => number;
  readonly onHit?: () => void;
  readonly onMiss?: () => void;
}

interface Entry {
  readonly value: Buffer;
  readonly expiresAt: number;
  /** Bumped by invalidation so a load that started before it does not store a stale value. */
  readonly generation: number;
}

export interface CatalogueCache {
  /** The cached bytes for `key`, or the bytes `load` produces (one load per key at a time). */
  get(key: string, load: () => Promise<unknown>): Promise<Buffer>;
  /** Drops every entry whose key starts with `prefix` (all entries when omitted). */
  invalidate(prefix?: string): void;
  readonly size: number;
}

export function createCatalogueCache(options: CatalogueCacheOptions): CatalogueCache {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 10_000;
  const entries = new Map<string, Entry>();
  const inflight = new Map<string, Promise<Buffer>>();
  let generation = 0;

  function store(key: string, value: Buffer, startedGeneration: number): void {
    if (options.ttlMs <= 0 || startedGeneration !== generation) return;
    if (entries.size >= maxEntries) {
      const oldest = entries.keys().next().value;
      if (oldest !== undefined) entries.delete(oldest);
    }
    entries.set(key, { value, expiresAt: now() + options.ttlMs, generation: startedGeneration });
  }

  return {
    get(key, load) {
      const entry = entries.get(key);
      if (entry && entry.expiresAt > now()) {
        options.onHit?.();
        return Promise.resolve(entry.value);
      }
      if (entry) entries.delete(key);
      const pending = inflight.get(key);
      if (pending) {
        // Coalesced onto a load already under way: no bus call of its own.
        options.onHit?.();
        return pending;
      }
      options.onMiss?.();
      const startedGeneration = generation;
      const promise = load()
        .then((value) => {
          const bytes = Buffer.from(JSON.stringify(value));
          store(key, bytes, startedGeneration);
          return bytes;
        })
        .finally(() => inflight.delete(key));
      inflight.set(key, promise);
      return promise;
    },
    invalidate(prefix) {
      // Invalidation is rare next to reads and the map small: a scan is fine, and bumping the
      // generation keeps loads already in flight from writing back what they read before it.
      generation++;
      if (prefix === undefined) {
        entries.clear();
        inflight.clear();
        return;
      }
      for (const key of entries.keys()) if (key.startsWith(prefix)) entries.delete(key);
      for (const key of inflight.keys()) if (key.startsWith(prefix)) inflight.delete(key);
    },
    get size() {
      return entries.size;
    },
  };
}
