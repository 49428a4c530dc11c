// A per-instance cache for the read-heavy pages (event list, event page): entries live about a
// second, a hundred concurrent misses for one key make one bus call (they share its promise), and
// changes end entries early. Values are kept serialised with their ETag, so a hit costs no JSON
// work and no hashing.
//
// Two kinds of change: `invalidate` (the event itself changed: its title, its times) drops the
// entries at once; `changed` (availability moved: a hold, an order) lets an entry be served for at
// most `staleAfterChangeMs` more, so a hot event's page is loaded a few times a second during an
// on-sale instead of after every hold. Both act on the keys they name only: a change to one event
// never stops another event's page from being cached.
import { createHash } from "node:crypto";

export interface CatalogueCacheOptions {
  /** Milliseconds an entry is served. 0 disables caching (coalescing still applies). */
  readonly ttlMs: number;
  /** Upper bound on entries; the oldest are dropped first. */
  readonly maxEntries?: number;
  /** How long an entry may still be served after `changed` names it. Default 0 (same as invalidate). */
  readonly staleAfterChangeMs?: number;
  readonly now?: () => number;
  readonly onHit?: () => void;
  readonly onMiss?: () => void;
}

/** A page as it goes on the wire: its JSON bytes and their entity tag (a quoted hash of the bytes). */
export interface CachedPage {
  readonly body: Buffer;
  readonly etag: string;
}

interface Entry {
  readonly value: CachedPage;
  expiresAt: number;
}

interface Load {
  readonly promise: Promise<CachedPage>;
  /** Set by `changed` while the load runs: what it stores is served until then at the latest. */
  expiresBy: number;
}

export interface CatalogueCache {
  /** The cached page for `key`, or the page `load` produces (one load per key at a time). */
  get(key: string, load: () => Promise<unknown>): Promise<CachedPage>;
  /** The cached page for `key` when fresh, without loading (counts a hit); undefined otherwise. */
  peek(key: string): CachedPage | undefined;
  /** Drops every entry whose key starts with `prefix` (all entries when omitted); loads under way do not store. */
  invalidate(prefix?: string): void;
  /** What entries starting with `prefix` show has changed: they are served for at most `staleAfterChangeMs` more. */
  changed(prefix: string): void;
  readonly size: number;
}

export function createCatalogueCache(options: CatalogueCacheOptions): CatalogueCache {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 10_000;
  const staleAfterChangeMs = Math.max(0, options.staleAfterChangeMs ?? 0);
  const entries = new Map<string, Entry>();
  const loads = new Map<string, Load>();

  function store(key: string, value: CachedPage, load: Load): void {
    // Invalidated while loading (or a newer load took its place): what it read may be stale.
    if (options.ttlMs <= 0 || loads.get(key) !== load) return;
    const expiresAt = Math.min(now() + options.ttlMs, load.expiresBy);
    if (expiresAt <= now()) return;
    if (entries.size >= maxEntries && !entries.has(key)) {
      const oldest = entries.keys().next().value;
      if (oldest !== undefined) entries.delete(oldest);
    }
    entries.set(key, { value, expiresAt });
  }

  function peek(key: string): CachedPage | undefined {
    const entry = entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt > now()) {
      options.onHit?.();
      return entry.value;
    }
    entries.delete(key);
    return undefined;
  }

  return {
    get(key, load) {
      const hit = peek(key);
      if (hit) return Promise.resolve(hit);
      const pending = loads.get(key);
      if (pending) {
        // Coalesced onto a load already under way: no bus call of its own.
        options.onHit?.();
        return pending.promise;
      }
      options.onMiss?.();
      const started = load().then((value) => {
        const page = pageOf(value);
        store(key, page, current);
        return page;
      });
      const current: Load = {
        promise: started.finally(() => {
          if (loads.get(key) === current) loads.delete(key);
        }),
        expiresBy: Number.POSITIVE_INFINITY,
      };
      loads.set(key, current);
      return current.promise;
    },
    peek,
    invalidate(prefix) {
      // Invalidation is rare next to reads and the map small: a scan is fine. A load under way for
      // a named key is forgotten, so it cannot write back what it read before the change.
      if (prefix === undefined) {
        entries.clear();
        loads.clear();
        return;
      }
      for (const key of entries.keys()) if (key.startsWith(prefix)) entries.delete(key);
      for (const key of loads.keys()) if (key.startsWith(prefix)) loads.delete(key);
    },
    changed(prefix) {
      const by = now() + staleAfterChangeMs;
      for (const [key, entry] of entries) if (key.startsWith(prefix) && entry.expiresAt > by) entry.expiresAt = by;
      for (const [key, load] of loads) if (key.startsWith(prefix) && load.expiresBy > by) load.expiresBy = by;
    },
    get size() {
      return entries.size;
    },
  };
}

/** Serialises a page once and tags it; the tag changes whenever a byte does. */
export function pageOf(value: unknown): CachedPage {
  const body = Buffer.from(JSON.stringify(value));
  return { body, etag: `"${createHash("sha1").update(body).digest("base64url")}"` };
}
