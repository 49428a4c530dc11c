// The only place that opens database connections: a pg Pool for postgres:// URLs, an embedded
// PGlite for pglite:// URLs. Each connection offers a Prisma driver adapter and a raw SQL executor
// over the same pool, so hot paths can skip Prisma without a second set of connections.
import { PGlite } from "@electric-sql/pglite";
import type { Transaction as PgliteTransaction } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { ShardMovedError, ShardMovingError, ShardUnavailableError } from "./errors.ts";
import { inSqlSpan } from "./sql-span.ts";
import { keepPgliteFileSizes } from "./pglite-file-sizes.ts";
import { queryPrepared } from "./pglite-prepared.ts";

export interface SqlResult<Row> {
  readonly rows: Row[];
  /** Rows inserted/updated/deleted (or returned, for a select). */
  readonly rowCount: number;
}

/** Raw SQL on one physical shard; `$1, $2, …` parameters. int8 columns come back as bigint on both drivers. */
export interface SqlExecutor {
  /** Name of the physical shard. */
  readonly shard: string;
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<SqlResult<Row>>;
  /** Runs `fn` in one transaction (BEGIN … COMMIT, ROLLBACK when it throws); nested calls join it. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Runs a multi-statement script without parameters (migrations). */
  exec(script: string): Promise<void>;
}

/** The adapter factory Prisma's client constructor takes (`new PrismaClient({ adapter })`). */
export type PrismaAdapter = PrismaPg | PrismaPGlite;

export interface Connection {
  readonly url: string;
  readonly kind: "postgres" | "pglite";
  readonly adapter: PrismaAdapter;
  readonly sql: SqlExecutor;
  /** Runs a multi-statement script (migrations) outside any transaction wrapper. */
  exec(script: string): Promise<void>;
  /** Runs `fn` on one dedicated session (advisory locks, manual BEGIN/COMMIT). */
  withSession<T>(fn: (session: SqlExecutor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface ConnectionOptions {
  /** pg pool size per physical shard URL. Default 10. */
  poolSize?: number;
  /** Connect timeout for pg. Default 5000 ms. */
  connectTimeoutMs?: number;
}

const PG_TYPES = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    // int8 as bigint so raw rows look the same on pg and PGlite (ids are 63-bit).
    if (oid === 20) return (value: string) => BigInt(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

const UNAVAILABLE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "ETIMEDOUT", "EHOSTUNREACH", "57P01", "57P02", "57P03", "3D000", "28P01", "28000", "53300"]);
const FENCE_PATTERN = /SHARD_(MOVING|MOVED):(\d+)/;

/** Turns a driver error into the lib's typed error when it is one of ours; returns it unchanged otherwise. */
export function translateDriverError(shard: string, error: unknown): unknown {
  const message = error instanceof Error ? error.message : String(error);
  const fence = FENCE_PATTERN.exec(message);
  if (fence) return fence[1] === "MOVING" ? new ShardMovingError(Number(fence[2])) : new ShardMovedError(Number(fence[2]));
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && UNAVAILABLE_CODES.has(code)) return new ShardUnavailableError(shard, error);
  if (error instanceof AggregateError && error.errors.some((e) => UNAVAILABLE_CODES.has((e as { code?: string }).code ?? ""))) {
    return new ShardUnavailableError(shard, error);
  }
  // "not queryable": the client lost its backend earlier (terminated between two queries); "not
  // currently accepting connections": the database was taken off line (ALLOW_CONNECTIONS false, 55000);
  // "timeout exceeded when trying to connect": every pooled client stayed busy past the connect timeout
  // (an overloaded shard) — a retry later may succeed, so it is a 503, not an internal error.
  if (/Connection terminated|connect ECONNREFUSED|timeout expired|timeout exceeded when trying to connect|not queryable|is not currently accepting connections/i.test(message)) {
    return new ShardUnavailableError(shard, error);
  }
  return error;
}

/** Statement texts given a name, at most this many (a text built per call must not grow every connection's cache). */
const MAX_NAMED_STATEMENTS = 1000;
const statementNames = new Map<string, string | undefined>();

/**
 * The name a parameterised statement is prepared under on each connection, so Postgres parses and
 * analyses it once per connection instead of on every call (a checkout's CTEs cost more to parse
 * than to run); undefined past MAX_NAMED_STATEMENTS texts, or for a text whose prepared form failed
 * (see `unnamed`): those run as unnamed statements, as every statement did before.
 */
function statementNameOf(text: string): string | undefined {
  if (statementNames.has(text)) return statementNames.get(text);
  const name = statementNames.size < MAX_NAMED_STATEMENTS ? `boxoffice_${statementNames.size}` : undefined;
  statementNames.set(text, name);
  return name;
}

/** "cached plan must not change result type": a table changed under a prepared `SELECT *`. */
function isStalePreparedStatement(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "0A000" && /cached plan must not change result type/.test(String((error as Error).message));
}

/**
 * `mode`: "pool" — each query on any pooled client, transactions check one out; "session" — one
 * checked-out client, transactions run BEGIN/COMMIT on it; "transaction" — inside one, nested calls join.
 */
function pgExecutor(shard: string, queryable: pg.Pool | pg.PoolClient, pool: pg.Pool, mode: "pool" | "session" | "transaction"): SqlExecutor {
  const executor: SqlExecutor = {
    shard,
    async query<Row>(text: string, params: readonly unknown[] = []) {
      // Without parameters the text may be a script of several statements (simple protocol): never named.
      const name = params.length > 0 ? statementNameOf(text) : undefined;
      try {
        let raw: pg.QueryResult | pg.QueryResult[];
        try {
          raw = await inSqlSpan(shard, text, () => queryable.query({ text, name, values: params as unknown[], types: PG_TYPES }));
        } catch (error) {
          // A table altered under a prepared statement (a migration while running): this text runs
          // unnamed from now on, everywhere. Retried here only on the pool: in a transaction or a
          // session the error aborted the work, so it fails, and the caller's retry runs unnamed.
          if (!name || !isStalePreparedStatement(error)) throw error;
          statementNames.set(text, undefined);
          if (mode !== "pool") throw error;
          raw = await inSqlSpan(shard, text, () => queryable.query({ text, values: params as unknown[], types: PG_TYPES }));
        }
        // A multi-statement script (no parameters) yields one result per statement: report the last.
        const result = Array.isArray(raw) ? raw[raw.length - 1] : raw;
        return { rows: (result?.rows ?? []) as Row[], rowCount: result?.rowCount ?? result?.rows.length ?? 0 };
      } catch (error) {
        throw translateDriverError(shard, error);
      }
    },
    async exec(script: string) {
      try {
        await queryable.query(script); // simple protocol: several statements allowed
      } catch (error) {
        throw translateDriverError(shard, error);
      }
    },
    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      if (mode === "transaction") return fn(executor);
      let client: pg.PoolClient;
      if (mode === "session") client = queryable as pg.PoolClient;
      else {
        try {
          client = await pool.connect();
        } catch (error) {
          throw translateDriverError(shard, error);
        }
      }
      let broken = false;
      try {
        await client.query("begin");
        const result = await fn(pgExecutor(shard, client, pool, "transaction"));
        await client.query("commit");
        return result;
      } catch (error) {
        await client.query("rollback").catch(() => {
          broken = true;
        });
        throw translateDriverError(shard, error);
      } finally {
        if (mode === "pool") client.release(broken);
      }
    },
  };
  return executor;
}

/**
 * PGlite runs each statement synchronously on this thread, and statements queued behind its lock
 * run one after another inside one microtask drain: in the embedded on-sale that held the event loop
 * for 150-270 ms at a time (polls answered late, 503 BUSY from the loop-delay bound). A statement
 * outside a transaction (and a transaction's start) first lets the loop turn, so a stall is one
 * statement long. Inside a transaction nothing yields: the transaction holds the database.
 */
const letTheLoopTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * `tx`: inside `root.transaction()`, its handle (queries join it). A parameterised statement runs as
 * a statement prepared once per database (pglite-prepared.ts): a trip into PGlite per call instead of
 * five, and no parse or plan of the text each time.
 */
function pgliteExecutor(shard: string, root: PGlite, tx?: PgliteTransaction): SqlExecutor {
  const db = tx ?? root;
  const executor: SqlExecutor = {
    shard,
    async query<Row>(text: string, params: readonly unknown[] = []) {
      if (!tx) await letTheLoopTurn();
      try {
        const unprepared = () => db.query<Row>(text, params as unknown[]);
        const result = await inSqlSpan(shard, text, () => (params.length > 0 ? queryPrepared<Row>(root, text, params, tx !== undefined, unprepared) : unprepared()));
        return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
      } catch (error) {
        throw translateDriverError(shard, error);
      }
    },
    async exec(script: string) {
      try {
        await db.exec(script);
      } catch (error) {
        throw translateDriverError(shard, error);
      }
    },
    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      if (tx) return fn(executor);
      await letTheLoopTurn();
      try {
        return await root.transaction((handle) => fn(pgliteExecutor(shard, root, handle)));
      } catch (error) {
        throw translateDriverError(shard, error);
      }
    },
  };
  return executor;
}

// Embedded databases live in this process: one PGlite per URL, shared by every router, migration
// run and tool in the process (a data dir must never be opened twice). Counted so that closing the
// last user closes a dir-backed instance; in-memory ones stay until disposeEmbeddedDatabase, or
// their data would vanish between a start-up migration and the router that follows it.
const embedded = new Map<string, { db: PGlite; users: number }>();

/** `pglite://memory` and `pglite://memory/<label>` are in memory; anything else after `pglite://` is a data dir. */
function pgliteLocation(url: string): string | undefined {
  const rest = url.slice("pglite://".length);
  return rest === "memory" || rest.startsWith("memory/") ? undefined : rest;
}

function acquirePglite(url: string): PGlite {
  let entry = embedded.get(url);
  if (!entry) {
    const dir = pgliteLocation(url);
    const db = dir === undefined ? new PGlite() : new PGlite(dir);
    // Registered before any query can be (queries wait for waitReady too, and run after this).
    if (dir !== undefined) void db.waitReady.then(() => keepPgliteFileSizes(db), () => undefined);
    entry = { db, users: 0 };
    embedded.set(url, entry);
  }
  entry.users++;
  return entry.db;
}

async function releasePglite(url: string): Promise<void> {
  const entry = embedded.get(url);
  if (!entry) return;
  entry.users--;
  if (entry.users <= 0 && pgliteLocation(url) !== undefined) {
    embedded.delete(url);
    await entry.db.close();
  }
}

/** Closes an embedded database for good (in-memory data is lost). Tests call it when done. */
export async function disposeEmbeddedDatabase(url: string): Promise<void> {
  const entry = embedded.get(url);
  if (!entry) return;
  embedded.delete(url);
  if (!entry.db.closed) await entry.db.close();
}

export function openConnection(shard: string, url: string, options: ConnectionOptions = {}): Connection {
  if (url.startsWith("pglite://")) {
    const db = acquirePglite(url);
    let closed = false;
    return {
      url,
      kind: "pglite",
      adapter: new PrismaPGlite(db),
      sql: pgliteExecutor(shard, db),
      async exec(script) {
        try {
          await db.exec(script);
        } catch (error) {
          throw translateDriverError(shard, error);
        }
      },
      withSession: (fn) => fn(pgliteExecutor(shard, db)),
      async close() {
        if (closed) return;
        closed = true;
        await releasePglite(url);
      },
    };
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
  });
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on("error", () => {});
  // A client the pool has lent out loses the pool's idle listener: its backend terminated then
  // (failover, pg_terminate_backend, a database taken off line) would emit 'error' with nobody
  // listening, and that ends the process. The work on it fails through its query instead (translated
  // to ShardUnavailableError) and the pool drops the client when it comes back.
  pool.on("connect", (client) => {
    client.on("error", () => {});
  });
  return {
    url,
    kind: "postgres",
    adapter: new PrismaPg(pool),
    sql: pgExecutor(shard, pool, pool, "pool"),
    async exec(script) {
      try {
        await pool.query(script);
      } catch (error) {
        throw translateDriverError(shard, error);
      }
    },
    async withSession(fn) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw translateDriverError(shard, error);
      }
      let broken = false;
      try {
        return await fn(pgExecutor(shard, client, pool, "session"));
      } catch (error) {
        broken = true; // the session may hold locks or an open transaction: do not reuse it
        throw error;
      } finally {
        client.release(broken);
      }
    },
    async close() {
      if (!pool.ended) await pool.end();
    },
  };
}
