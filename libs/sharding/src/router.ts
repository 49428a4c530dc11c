// The router turns a key or an id into the Prisma client (or raw SQL executor) of the physical
// shard that owns it, sends reads to replicas unless the caller must see its own writes, and
// follows the shard map when a logical shard moves.
import { AsyncLocalStorage } from "node:async_hooks";
import { openConnection, translateDriverError } from "./connections.ts";
import type { Connection, ConnectionOptions, PrismaAdapter, SqlExecutor } from "./connections.ts";
import { ShardMapInvalidError, ShardMovedError, ShardMovingError } from "./errors.ts";
import { logicalShardOfId } from "./ids.ts";
import { isLogicalShard, logicalShardOf } from "./logical-shard.ts";
import { readStoredShardMap } from "./map-store.ts";
import type { PhysicalShard, ShardMap } from "./shard-map.ts";

export interface RouteOptions {
  /** A read that may go to a replica (unless pinned to the primary, see withRequestContext). Default false. */
  read?: boolean;
}

export interface ShardRouterOptions<Client> {
  map: ShardMap;
  /** Builds one Prisma client over an adapter the lib made: `(adapter) => new PrismaClient({ adapter })`. */
  createClient: (adapter: PrismaAdapter) => Client;
  /** How long after a user's write their reads stay on primaries (read-your-writes). Default 5000 ms. */
  readYourWritesMs?: number;
  /** How often to poll the published map version (shard moves); 0 turns polling off. Default 5000 ms. */
  mapRefreshMs?: number;
  /** pg pool size per physical shard URL. Default 10. */
  poolSize?: number;
  /** pg connect timeout. Default 5000 ms. */
  connectTimeoutMs?: number;
  /**
   * How long a write to a logical shard that is being moved waits (retrying) before the
   * retryable SHARD_MOVING reaches the caller. Default 8000 ms.
   */
  moveWaitMs?: number;
}

export const DEFAULT_ROUTER_OPTIONS = { readYourWritesMs: 5000, mapRefreshMs: 5000, poolSize: 10, connectTimeoutMs: 5000, moveWaitMs: 8000 } as const;

/**
 * Raw SQL by key, id or logical shard resolves the physical shard at each call, not when the
 * executor is made: a write refused because its logical shard is moving waits and retries (up to
 * moveWaitMs), and one refused because it moved reloads the map and retries on the new owner.
 * A transaction is retried whole (the fence refuses its first write, so nothing of it committed).
 * By physical shard (forShard, all) stays where it was asked to go.
 */
export interface ShardSql {
  forKey(key: string, options?: RouteOptions): SqlExecutor;
  forId(id: string | bigint, options?: RouteOptions): SqlExecutor;
  forLogical(logicalShard: number, options?: RouteOptions): SqlExecutor;
  /** By physical shard name. */
  forShard(name: string, options?: RouteOptions): SqlExecutor;
  /** One executor per physical shard, for scatter-gather. */
  all(options?: RouteOptions): Array<{ shard: string; sql: SqlExecutor }>;
}

export interface ShardRouter<Client> {
  /** The map in force (replaced when a newer version is published). */
  readonly map: ShardMap;
  forKey(key: string, options?: RouteOptions): Client;
  forId(id: string | bigint, options?: RouteOptions): Client;
  forLogical(logicalShard: number, options?: RouteOptions): Client;
  forShard(name: string, options?: RouteOptions): Client;
  /** One client per physical shard, for scatter-gather (see scatterGather). */
  all(options?: RouteOptions): Array<{ shard: string; client: Client }>;
  /** Raw SQL on the same pools, for hot paths. */
  readonly sql: ShardSql;
  /** Reads the published map now; true when a newer version was adopted. */
  refreshMap(): Promise<boolean>;
  close(): Promise<void>;
}

interface RequestContext {
  readonly userId?: string;
  readonly written: Set<string>;
}

const requestContext = new AsyncLocalStorage<RequestContext>();

/**
 * Runs `fn` in a request context: once it touches a shard's primary, its reads of that shard stay
 * on the primary; with a userId, that user's reads stay on primaries for readYourWritesMs after.
 */
export function withRequestContext<T>(context: { userId?: string }, fn: () => T): T {
  return requestContext.run({ userId: context.userId, written: new Set() }, fn);
}

interface Endpoint<Client> {
  readonly connection: Connection;
  client?: Client;
  sql?: SqlExecutor;
}

export function createShardRouter<Client>(options: ShardRouterOptions<Client>): ShardRouter<Client> {
  const settings = { ...DEFAULT_ROUTER_OPTIONS, ...stripUndefined(options) };
  let map = options.map;
  let byName = indexShards(map);
  const endpoints = new Map<string, Endpoint<Client>>();
  // Per process: another process serving the same user does not see these (documented).
  const lastWriteByUser = new Map<string, number>();
  const replicaCursor = new Map<string, number>();
  let closed = false;
  let refreshing: Promise<boolean> | undefined;
  // When the map was last confirmed against the published one. A router never routes with a map
  // older than maxMapAgeMs (it refreshes first): a shard move keeps the old copy longer than that.
  let confirmedAt = 0;
  const maxMapAgeMs = settings.mapRefreshMs > 0 ? 2 * settings.mapRefreshMs : Infinity;

  function endpoint(shard: string, url: string): Endpoint<Client> {
    if (closed) throw new Error("shard router is closed");
    let found = endpoints.get(url);
    if (!found) {
      found = { connection: openConnection(shard, url, { poolSize: settings.poolSize, connectTimeoutMs: settings.connectTimeoutMs } satisfies ConnectionOptions) };
      endpoints.set(url, found);
    }
    return found;
  }

  function onMoved(): void {
    void refreshMap().catch(() => {});
  }

  function client(shard: string, url: string): Client {
    const e = endpoint(shard, url);
    e.client ??= withTypedErrors(options.createClient(e.connection.adapter), shard, onMoved);
    return e.client;
  }

  function sqlOf(shard: string, url: string): SqlExecutor {
    const e = endpoint(shard, url);
    e.sql ??= withMovedRefresh(e.connection.sql, onMoved);
    return e.sql;
  }

  function pickUrl(shard: PhysicalShard, read: boolean): string {
    const context = requestContext.getStore();
    if (!read || shard.replicas.length === 0) {
      if (!read && context) {
        context.written.add(shard.name);
        if (context.userId !== undefined) rememberWrite(context.userId);
      }
      return shard.primary;
    }
    if (context?.written.has(shard.name)) return shard.primary;
    if (context?.userId !== undefined) {
      const last = lastWriteByUser.get(context.userId);
      if (last !== undefined && Date.now() - last < settings.readYourWritesMs) return shard.primary;
    }
    const next = (replicaCursor.get(shard.name) ?? 0) + 1;
    replicaCursor.set(shard.name, next);
    return shard.replicas[next % shard.replicas.length];
  }

  function rememberWrite(userId: string): void {
    const now = Date.now();
    lastWriteByUser.set(userId, now);
    if (lastWriteByUser.size > 10_000) {
      for (const [user, at] of lastWriteByUser) if (now - at >= settings.readYourWritesMs) lastWriteByUser.delete(user);
    }
  }

  function shardOfLogical(logical: number): PhysicalShard {
    if (!isLogicalShard(logical)) throw new RangeError(`logical shard must be an integer 0–4095, got ${logical}`);
    return map.shards[map.owner[logical]];
  }

  function shardNamed(name: string): PhysicalShard {
    const shard = byName.get(name);
    if (!shard) throw new ShardMapInvalidError(`no physical shard named "${name}" in the shard map`, { shard: name });
    return shard;
  }

  function route<T>(shard: PhysicalShard, routeOptions: RouteOptions | undefined, make: (name: string, url: string) => T): T {
    return make(shard.name, pickUrl(shard, routeOptions?.read ?? false));
  }

  async function refreshMap(): Promise<boolean> {
    refreshing ??= (async () => {
      try {
        let newest: ShardMap | undefined;
        const found = await Promise.allSettled(map.shards.map((s) => readStoredShardMap(endpoint(s.name, s.primary).connection.sql)));
        for (const result of found) {
          if (result.status === "fulfilled" && result.value && result.value.version > (newest?.version ?? map.version)) newest = result.value;
        }
        if (found.some((r) => r.status === "fulfilled")) confirmedAt = Date.now();
        if (!newest) return false;
        map = newest;
        byName = indexShards(newest);
        return true;
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  }

  const timer = settings.mapRefreshMs > 0 ? setInterval(() => void refreshMap().catch(() => {}), settings.mapRefreshMs) : undefined;
  timer?.unref();
  // A process started with an older configured map adopts the published one right away.
  if (timer) void refreshMap().catch(() => {});

  /** Refreshes first when the map in hand is older than maxMapAgeMs (never on the hot path otherwise). */
  async function currentShardOf(logical: number): Promise<PhysicalShard> {
    if (Date.now() - confirmedAt > maxMapAgeMs) await refreshMap().catch(() => false);
    return shardOfLogical(logical);
  }

  async function followingMoves<T>(logical: number, o: RouteOptions | undefined, run: (sql: SqlExecutor) => Promise<T>): Promise<T> {
    const deadline = Date.now() + settings.moveWaitMs;
    for (let attempt = 1; ; attempt++) {
      const shard = await currentShardOf(logical);
      try {
        return await run(route(shard, o, sqlOf));
      } catch (error) {
        if (!(error instanceof ShardMovingError || error instanceof ShardMovedError) || Date.now() >= deadline) throw error;
        if (error instanceof ShardMovedError) await refreshMap().catch(() => false);
        else await new Promise((r) => setTimeout(r, Math.min(250, 10 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random())));
      }
    }
  }

  function logicalSql(logical: number, o?: RouteOptions): SqlExecutor {
    if (!isLogicalShard(logical)) throw new RangeError(`logical shard must be an integer 0–4095, got ${logical}`);
    return {
      get shard() {
        return shardOfLogical(logical).name;
      },
      query<Row>(text: string, params?: readonly unknown[]) {
        return followingMoves(logical, o, (sql) => sql.query<Row>(text, params));
      },
      transaction<T>(fn: (tx: SqlExecutor) => Promise<T>) {
        return followingMoves(logical, o, (sql) => sql.transaction(fn));
      },
      exec(script: string) {
        return followingMoves(logical, o, (sql) => sql.exec(script));
      },
    };
  }

  const sql: ShardSql = {
    forKey: (key, o) => logicalSql(logicalShardOf(key), o),
    forId: (id, o) => logicalSql(logicalShardOfId(id), o),
    forLogical: (logical, o) => logicalSql(logical, o),
    forShard: (name, o) => route(shardNamed(name), o, sqlOf),
    all: (o) => map.shards.map((s) => ({ shard: s.name, sql: route(s, o, sqlOf) })),
  };

  return {
    get map() {
      return map;
    },
    forKey: (key, o) => route(shardOfLogical(logicalShardOf(key)), o, client),
    forId: (id, o) => route(shardOfLogical(logicalShardOfId(id)), o, client),
    forLogical: (logical, o) => route(shardOfLogical(logical), o, client),
    forShard: (name, o) => route(shardNamed(name), o, client),
    all: (o) => map.shards.map((s) => ({ shard: s.name, client: route(s, o, client) })),
    sql,
    refreshMap,
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      await refreshing?.catch(() => {});
      for (const e of endpoints.values()) {
        const c = e.client as { $disconnect?: () => Promise<void> } | undefined;
        await c?.$disconnect?.().catch(() => {});
        await e.connection.close();
      }
      endpoints.clear();
    },
  };
}

function indexShards(map: ShardMap): Map<string, PhysicalShard> {
  return new Map(map.shards.map((s) => [s.name, s]));
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Prisma errors carry the driver error deep inside; find a typed one anywhere in the chain. */
export function translatePrismaError(shard: string, error: unknown): unknown {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current; depth++) {
    const translated = translateDriverError(shard, current);
    if (translated !== current) return translated;
    const next = (current as { cause?: unknown }).cause;
    if (next === undefined || next === current) break;
    current = next;
  }
  const kind = (error as { cause?: { kind?: string } } | null)?.cause?.kind;
  const code = (error as { code?: string } | null)?.code;
  if (kind === "DatabaseNotReachable" || kind === "DatabaseDoesNotExist" || code === "P1001" || code === "P1003" || code === "P1017") {
    return translateDriverError(shard, Object.assign(new Error((error as Error).message), { code: "ECONNREFUSED" }));
  }
  return error;
}

function withTypedErrors<Client>(client: Client, shard: string, onMoved: () => void): Client {
  const extendable = client as unknown as { $extends?: (extension: unknown) => unknown };
  if (typeof extendable.$extends !== "function") return client;
  return extendable.$extends({
    query: {
      async $allOperations({ args, query }: { args: unknown; query: (args: unknown) => Promise<unknown> }) {
        try {
          return await query(args);
        } catch (error) {
          const translated = translatePrismaError(shard, error);
          if (translated instanceof ShardMovedError) onMoved();
          throw translated;
        }
      },
    },
  }) as Client;
}

function withMovedRefresh(inner: SqlExecutor, onMoved: () => void): SqlExecutor {
  return {
    shard: inner.shard,
    exec: (script) => inner.exec(script),
    async query(text, params) {
      try {
        return await inner.query(text, params);
      } catch (error) {
        if (error instanceof ShardMovedError) onMoved();
        throw error;
      }
    },
    async transaction(fn) {
      try {
        return await inner.transaction((tx) => fn(tx));
      } catch (error) {
        if (error instanceof ShardMovedError) onMoved();
        throw error;
      }
    },
  };
}
