// Moving logical shards to another physical shard while the services run:
//  1. check: the service's tables (every table with a `logical_shard` column in the service's own
//     schemas) exist on source and target, and the data is where the map says it is;
//  2. fence them on the source: a trigger on every sharded table refuses writes to those logical
//     shards (SHARD_MOVING, retryable: the router waits and retries). The fence row is committed
//     under SHARE locks on the tables, which wait for in-flight writes and let reads through, so
//     after it commits the source copy is final;
//  3. copy their rows to the target in one transaction and check the counts match;
//  4. publish the new map (version + 1) to every primary and turn the fence to SHARD_MOVED, so a
//     process still on the old map is told to reload it and retries on the target;
//  5. after a grace period (longer than any router may keep an old map: see the router's
//     `maxMapAgeMs`), delete the old copy. Until then a process on the old map still reads the
//     frozen copy rather than nothing.
// The fence stays on the source afterwards (one primary-key lookup per written row there) so a
// process that missed the new map can never write to the old place. An interrupted move is
// finished or undone by recoverInterruptedMoves (`npm run shards -- recover`).
import { openConnection } from "./connections.ts";
import type { Connection, SqlExecutor } from "./connections.ts";
import { ShardMapInvalidError } from "./errors.ts";
import { FENCE_TABLE_SQL } from "./fence.ts";
import { isLogicalShard } from "./logical-shard.ts";
import { publishShardMap, readStoredShardMap } from "./map-store.ts";
import { DEFAULT_ROUTER_OPTIONS } from "./router.ts";
import { physicalShardOf, reassignLogicalShards } from "./shard-map.ts";
import type { PhysicalShard, ShardMap } from "./shard-map.ts";

export interface MoveOptions {
  /** The map this process knows; a newer published version found on the shards wins. */
  map: ShardMap;
  /** One logical shard, or several that live on the same physical shard (moved as one batch). */
  logicalShard?: number;
  logicalShards?: readonly number[];
  /** Name of the target physical shard. */
  to: string;
  /** The service's database schemas (see serviceDatabaseSchemas); never the connection's search path. */
  schemas: readonly string[];
  /** How long the old copy stays (frozen) before it is deleted. Default DEFAULT_MOVE_OPTIONS.graceMs. */
  graceMs?: number;
  /** Leave the old copy for a later cleanupMovedCopies (a rebalance deletes in the background). */
  deferCleanup?: boolean;
  /** How long fencing may wait for in-flight writes before it gives up and retries. Default 2000 ms. */
  lockTimeoutMs?: number;
  log?: (line: string) => void;
}

export const DEFAULT_MOVE_OPTIONS = {
  // Routers poll every mapRefreshMs and never route with a map older than 2 × that: wait longer.
  graceMs: 2 * DEFAULT_ROUTER_OPTIONS.mapRefreshMs + 2000,
  lockTimeoutMs: 2000,
} as const;

export interface MoveResult {
  readonly map: ShardMap;
  readonly from: string;
  readonly to: string;
  readonly logicalShards: readonly number[];
  /** Rows copied per table ("schema.table"). */
  readonly rows: Record<string, number>;
  /** How long writes to the moved logical shards were refused with SHARD_MOVING. */
  readonly fencedMs: number;
  /** Whether the old copy was deleted (false with deferCleanup). */
  readonly cleanedUp: boolean;
}

const FENCE_FUNCTION = `create or replace function public.boxoffice_shard_fence_check() returns trigger language plpgsql as $fence$
declare
  l int;
  s text;
begin
  if tg_op = 'DELETE' then l := old.logical_shard; else l := new.logical_shard; end if;
  select state into s from public.boxoffice_shard_fence where logical_shard = l;
  if s is not null then
    raise exception 'SHARD_%:%', upper(s), l using errcode = 'P0001';
  end if;
  if tg_op = 'DELETE' then return old; end if;
  return new;
end
$fence$`;

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Tables of the service (in `schemas`, not ours) that carry a logical_shard column, as "schema"."table". */
export async function shardedTables(sql: SqlExecutor, schemas: readonly string[]): Promise<string[]> {
  const { rows } = await sql.query<{ table_schema: string; table_name: string }>(
    `select c.table_schema, c.table_name from information_schema.columns c
       join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name and t.table_type = 'BASE TABLE'
      where c.column_name = 'logical_shard' and c.table_schema = any($1::text[]) and c.table_name not like 'boxoffice\\_%'
      order by c.table_schema, c.table_name`,
    [[...schemas]],
  );
  return rows.map((r) => `${quoteIdent(r.table_schema)}.${quoteIdent(r.table_name)}`);
}

/** "inventory"."seats" → inventory.seats, for logs and results. */
const plain = (table: string) => table.replace(/"/g, "");

/** One pool per URL for the length of one operation. */
class Connections {
  private readonly open = new Map<string, Connection>();
  sql(shard: PhysicalShard): SqlExecutor {
    let found = this.open.get(shard.primary);
    if (!found) {
      found = openConnection(shard.name, shard.primary, { poolSize: 2 });
      this.open.set(shard.primary, found);
    }
    return found.sql;
  }
  async close(): Promise<void> {
    for (const c of this.open.values()) await c.close();
    this.open.clear();
  }
}

/** The newest map published on any primary of `map` (or `map` itself). */
export async function newestPublishedMap(map: ShardMap, connections?: Connections): Promise<ShardMap> {
  const own = connections ?? new Connections();
  try {
    let newest = map;
    for (const shard of map.shards) {
      const stored = await readStoredShardMap(own.sql(shard));
      if (stored && stored.version > newest.version) newest = stored;
    }
    // A map can name shards the configured one did not (a shard added since): look there too.
    if (newest !== map) return await newestPublishedMap(newest, own);
    return newest;
  } finally {
    if (!connections) await own.close();
  }
}

/** The columns a copy writes (generated ones are computed again on the target) and the serial ones. */
async function columnsOf(sql: SqlExecutor, table: string): Promise<{ columns: string[]; serials: string[] }> {
  const { rows } = await sql.query<{ column_name: string; is_generated: string; column_default: string | null }>(
    `select a.attname as column_name, case when a.attgenerated <> '' then 'ALWAYS' else 'NEVER' end as is_generated, pg_get_expr(d.adbin, d.adrelid) as column_default
       from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where a.attrelid = to_regclass($1) and a.attnum > 0 and not a.attisdropped order by a.attnum`,
    [table],
  );
  const writable = rows.filter((r) => r.is_generated === "NEVER");
  return {
    columns: writable.map((r) => quoteIdent(r.column_name)),
    serials: writable.filter((r) => r.column_default?.startsWith("nextval(")).map((r) => quoteIdent(r.column_name)),
  };
}

async function countRows(sql: SqlExecutor, tables: readonly string[], logicalShards: readonly number[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const { rows } = await sql.query<{ n: bigint | number }>(`select count(*) as n from ${table} where logical_shard = any($1::int[])`, [[...logicalShards]]);
    counts[plain(table)] = Number(rows[0].n);
  }
  return counts;
}

const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/** Runs `fn` again when it lost a lock race with the services' writes (timeout or deadlock). */
async function withLockRetry<T>(what: string, lockTimeoutMs: number, log: (line: string) => void, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const code = (error as { code?: string }).code ?? ((error as { cause?: { code?: string } }).cause?.code);
      // 55P03 lock_not_available, 40P01 deadlock: a busy moment; try again a few times.
      if ((code !== "55P03" && code !== "40P01") || attempt >= 10) throw error;
      log(`${what} lost a lock race with in-flight writes (${code}); retrying (${attempt})`);
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}

async function installFence(sql: SqlExecutor, tables: readonly string[], lockTimeoutMs: number, log: (line: string) => void): Promise<void> {
  await withLockRetry("installing the fence", lockTimeoutMs, log, () =>
    sql.transaction(async (tx) => {
      // Concurrent movers (two tools at once) serialise here instead of racing on DDL.
      await tx.query("select pg_advisory_xact_lock(727017002)");
      await tx.exec(FENCE_TABLE_SQL);
      await tx.exec(FENCE_FUNCTION);
      const missing: string[] = [];
      for (const table of tables) {
        const { rows } = await tx.query<{ present: boolean }>(
          "select exists (select 1 from pg_trigger where tgname = 'boxoffice_shard_fence' and tgrelid = to_regclass($1)) as present",
          [table],
        );
        if (!rows[0].present) missing.push(table);
      }
      if (missing.length === 0) return;
      // Every lock at once, bounded: creating a trigger waits for the writes in flight on its table.
      await tx.query(`set local lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))}`);
      await tx.query(`lock table ${missing.join(", ")} in share row exclusive mode`);
      for (const table of missing) {
        await tx.query(`create trigger boxoffice_shard_fence before insert or update or delete on ${table} for each row execute function public.boxoffice_shard_fence_check()`);
      }
    }),
  );
}

/** Commits the fence rows once every in-flight write to the tables has ended (SHARE locks: reads pass). */
async function raiseFence(sql: SqlExecutor, tables: readonly string[], logicalShards: readonly number[], lockTimeoutMs: number, log: (line: string) => void): Promise<void> {
  await withLockRetry("fencing", lockTimeoutMs, log, () =>
    sql.transaction(async (tx) => {
      await tx.query(`set local lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))}`);
      await tx.query(`lock table ${tables.join(", ")} in share mode`);
      await tx.query(
        "insert into public.boxoffice_shard_fence (logical_shard, state, moved_at) select unnest($1::int[]), 'moving', null on conflict (logical_shard) do update set state = 'moving', moved_at = null",
        [[...logicalShards]],
      );
    }),
  );
}

async function liftFence(sql: SqlExecutor, logicalShards: readonly number[]): Promise<void> {
  await sql.query("delete from public.boxoffice_shard_fence where logical_shard = any($1::int[])", [[...logicalShards]]);
}

async function deleteRows(sql: SqlExecutor, tables: readonly string[], logicalShards: readonly number[]): Promise<number> {
  return sql.transaction(async (tx) => {
    // Replica role: the fence trigger and foreign keys do not fire, so tables empty in any order.
    await tx.query("set local session_replication_role = replica");
    let deleted = 0;
    for (const table of tables) deleted += (await tx.query(`delete from ${table} where logical_shard = any($1::int[])`, [[...logicalShards]])).rowCount;
    return deleted;
  });
}

function describe(logicalShards: readonly number[]): string {
  if (logicalShards.length === 1) return `logical shard ${logicalShards[0]}`;
  const sorted = [...logicalShards].sort((a, b) => a - b);
  return `${sorted.length} logical shards (${sorted[0]}–${sorted[sorted.length - 1]})`;
}

export async function moveLogicalShards(options: MoveOptions): Promise<MoveResult> {
  const logicalShards = [...new Set(options.logicalShards ?? (options.logicalShard === undefined ? [] : [options.logicalShard]))].sort((a, b) => a - b);
  const { to } = options;
  const log = options.log ?? (() => {});
  const graceMs = options.graceMs ?? DEFAULT_MOVE_OPTIONS.graceMs;
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_MOVE_OPTIONS.lockTimeoutMs;
  if (logicalShards.length === 0) throw new RangeError("name at least one logical shard to move");
  for (const l of logicalShards) if (!isLogicalShard(l)) throw new RangeError(`logical shard must be an integer 0–4095, got ${l}`);
  if (options.schemas.length === 0) throw new ShardMapInvalidError("a move needs the service's database schemas (e.g. --service inventory)");
  const what = describe(logicalShards);
  const connections = new Connections();
  try {
    const map = await newestPublishedMap(options.map, connections);
    const target = map.shards.find((s) => s.name === to);
    if (!target) throw new ShardMapInvalidError(`no physical shard named "${to}" in the shard map (version ${map.version})`, { shard: to });
    const sources = new Set(logicalShards.map((l) => physicalShardOf(map, l).name));
    if (sources.size > 1) throw new ShardMapInvalidError(`${what} live on several physical shards (${[...sources].join(", ")}): move them in one batch per source`, { sources: [...sources] });
    const source = physicalShardOf(map, logicalShards[0]);
    if (source.name === to) {
      log(`${what} already live on ${to} (map version ${map.version})`);
      return { map, from: source.name, to, logicalShards, rows: {}, fencedMs: 0, cleanedUp: true };
    }
    const src = connections.sql(source);
    const dst = connections.sql(target);

    // 1. The service's tables, on both sides, and the data where the map says it is.
    const tables = await shardedTables(src, options.schemas);
    if (tables.length === 0) {
      throw new ShardMapInvalidError(
        `found no table with a logical_shard column in schema(s) ${options.schemas.join(", ")} on "${source.name}": wrong service, or the shard is not migrated; nothing was moved or published`,
        { shard: source.name, schemas: options.schemas },
      );
    }
    const targetTables = new Set(await shardedTables(dst, options.schemas));
    const missing = tables.filter((t) => !targetTables.has(t));
    if (missing.length > 0) {
      throw new ShardMapInvalidError(`target shard "${to}" lacks tables ${missing.map(plain).join(", ")}: migrate it first (npm run shards -- add); nothing was moved`, {
        shard: to,
        missing: missing.map(plain),
      });
    }
    const before = await countRows(src, tables, logicalShards);
    for (const other of map.shards) {
      if (other.name === source.name || other.name === to) continue;
      const otherTables = await shardedTables(connections.sql(other), options.schemas);
      const stray = total(await countRows(connections.sql(other), otherTables, logicalShards));
      if (stray > 0) {
        throw new ShardMapInvalidError(
          `${what} owned by "${source.name}" (map version ${map.version}) also has ${stray} rows on "${other.name}": the data and the map disagree (an interrupted move? run npm run shards -- recover); nothing was moved`,
          { shard: other.name, rows: stray },
        );
      }
    }
    if (total(before) === 0) {
      const onTarget = total(await countRows(dst, tables, logicalShards));
      if (onTarget > 0) {
        throw new ShardMapInvalidError(
          `${what} has no rows on its owner "${source.name}" but ${onTarget} on "${to}": the data and the map disagree (an interrupted move? run npm run shards -- recover); nothing was moved or published`,
          { shard: to, rows: onTarget },
        );
      }
    }
    // Every primary holds the map before anything changes, so routers can follow it.
    for (const shard of map.shards) await publishShardMap(connections.sql(shard), map);

    // 2. Fence.
    await installFence(src, tables, lockTimeoutMs, log);
    log(`fencing ${what} on ${source.name} (writes get SHARD_MOVING and wait)`);
    await raiseFence(src, tables, logicalShards, lockTimeoutMs, log);
    const fencedAt = performance.now();

    let next: ShardMap;
    const rows: Record<string, number> = {};
    try {
      // The fence is up: the source copy is final. Count it again (writes may have landed before the fence).
      const final = await countRows(src, tables, logicalShards);

      // 3. Copy, in one transaction on the target, checked before it commits.
      await dst.transaction(async (tx) => {
        await tx.query("set local session_replication_role = replica");
        // The target may have given these logical shards away before: lift its old fence, and drop
        // any rows left there by a move away that never finished its cleanup.
        await tx.exec(FENCE_TABLE_SQL);
        await tx.query("delete from public.boxoffice_shard_fence where logical_shard = any($1::int[])", [logicalShards]);
        for (const table of tables) await tx.query(`delete from ${table} where logical_shard = any($1::int[])`, [logicalShards]);
        for (const table of tables) {
          const { columns, serials } = await columnsOf(tx, table);
          const data = await src.query<{ rows: string }>(`select coalesce(json_agg(t), '[]')::text as rows from ${table} t where logical_shard = any($1::int[])`, [logicalShards]);
          const list = columns.join(", ");
          const copied = await tx.query(`insert into ${table} (${list}) select ${list} from json_populate_recordset(null::${table}, $1::json)`, [data.rows[0].rows]);
          rows[plain(table)] = copied.rowCount;
          // A serial column keeps the copied ids: move its sequence past them, or the target's next
          // insert would collide with a row that came from the source.
          for (const column of serials) {
            await tx.query(`select setval(pg_get_serial_sequence($1, $2), greatest((select coalesce(max(${column}), 0) from ${table}), nextval(pg_get_serial_sequence($1, $2))))`, [
              table,
              column.replace(/"/g, ""),
            ]);
          }
        }
        const copiedCounts = await countRows(tx, tables, logicalShards);
        for (const [table, n] of Object.entries(final)) {
          if (copiedCounts[table] !== n) throw new Error(`copy check failed: ${table} has ${n} rows of ${what} on ${source.name} but ${copiedCounts[table]} on ${to}`);
        }
      });
      log(`copied ${total(rows)} rows ${JSON.stringify(rows)} to ${to}`);

      // 4. Publish: the target first (it answers for these logical shards from now on), then the rest.
      next = reassignLogicalShards(map, logicalShards, to);
      await publishShardMap(dst, next);
      for (const shard of next.shards) if (shard.name !== to) await publishShardMap(connections.sql(shard), next);
    } catch (error) {
      // Nothing was published: the source still owns the data; let writes through again.
      await liftFence(src, logicalShards).catch(() => {});
      log(`move of ${what} failed before publishing; the fence is lifted, ${source.name} still owns it`);
      throw error;
    }
    await src.query("update public.boxoffice_shard_fence set state = 'moved', moved_at = now() where logical_shard = any($1::int[])", [logicalShards]);
    const fencedMs = performance.now() - fencedAt;
    log(`published map version ${next.version}: ${what} → ${to} (writes fenced for ${fencedMs.toFixed(0)} ms)`);

    // 5. Delete the old copy once no router can still be on the old map.
    if (options.deferCleanup) return { map: next, from: source.name, to, logicalShards, rows, fencedMs, cleanedUp: false };
    log(`keeping the frozen old copy on ${source.name} for ${graceMs} ms while every process adopts version ${next.version}`);
    await new Promise((r) => setTimeout(r, graceMs));
    const deleted = await deleteRows(src, tables, logicalShards);
    log(`deleted the old copy on ${source.name} (${deleted} rows)`);
    return { map: next, from: source.name, to, logicalShards, rows, fencedMs, cleanedUp: true };
  } finally {
    await connections.close();
  }
}

/** Moves one logical shard (see moveLogicalShards). */
export function moveLogicalShard(options: MoveOptions & { logicalShard: number }): Promise<MoveResult> {
  return moveLogicalShards({ ...options, logicalShards: [options.logicalShard] });
}

export interface CleanupResult {
  /** Rows deleted per physical shard. */
  readonly deleted: Record<string, number>;
  /** Moved-away logical shards whose old copy is still inside its grace period. */
  readonly waiting: number;
}

/**
 * Deletes the old copies of logical shards that moved away more than `graceMs` ago (what a move
 * does at its end; a rebalance runs it between batches and once at the end).
 */
export async function cleanupMovedCopies(options: { map: ShardMap; schemas: readonly string[]; graceMs?: number; log?: (line: string) => void }): Promise<CleanupResult> {
  const graceMs = options.graceMs ?? DEFAULT_MOVE_OPTIONS.graceMs;
  const log = options.log ?? (() => {});
  const connections = new Connections();
  const deleted: Record<string, number> = {};
  let waiting = 0;
  try {
    const map = await newestPublishedMap(options.map, connections);
    for (const shard of map.shards) {
      const sql = connections.sql(shard);
      const fences = await readFences(sql);
      const movedAway = fences.filter((f) => f.state === "moved" && physicalShardOf(map, f.logicalShard).name !== shard.name);
      const due = movedAway.filter((f) => f.ageMs >= graceMs).map((f) => f.logicalShard);
      waiting += movedAway.length - due.length;
      if (due.length === 0) continue;
      const tables = await shardedTables(sql, options.schemas);
      deleted[shard.name] = tables.length === 0 ? 0 : await deleteRows(sql, tables, due);
      if (deleted[shard.name] > 0) log(`deleted ${deleted[shard.name]} rows of ${describe(due)} that moved away from ${shard.name}`);
    }
    return { deleted, waiting };
  } finally {
    await connections.close();
  }
}

interface Fence {
  logicalShard: number;
  state: "moving" | "moved";
  ageMs: number;
}

async function readFences(sql: SqlExecutor): Promise<Fence[]> {
  const exists = await sql.query<{ t: string | null }>("select to_regclass('public.boxoffice_shard_fence')::text as t");
  if (!exists.rows[0]?.t) return [];
  // No DDL here (an ALTER would lock the table every write's fence trigger reads): migrate and the move create it.
  const { rows } = await sql.query<{ logical_shard: number; state: string; age_ms: number | null }>(
    "select logical_shard, state, (extract(epoch from (now() - moved_at)) * 1000)::float8 as age_ms from public.boxoffice_shard_fence",
  );
  return rows.map((r) => ({ logicalShard: Number(r.logical_shard), state: r.state === "moved" ? "moved" : "moving", ageMs: r.age_ms === null ? Infinity : Number(r.age_ms) }));
}

export interface RecoverResult {
  /** Moves interrupted before their map was published: undone (fence lifted, partial copies dropped). */
  readonly undone: number[];
  /** Moves interrupted after their map was published: marked moved (their old copy is cleaned up). */
  readonly finished: number[];
  readonly cleanup: CleanupResult;
}

/**
 * Leaves every logical shard in exactly one place after a move or rebalance was killed: a fence
 * still "moving" where the newest map says the shard still owns it is undone (the copy on any
 * other shard is an orphan); one whose map was already published is marked moved; then old
 * copies past their grace period are deleted (wait `graceMs` and run again for the rest).
 */
export async function recoverInterruptedMoves(options: { map: ShardMap; schemas: readonly string[]; graceMs?: number; log?: (line: string) => void }): Promise<RecoverResult> {
  const log = options.log ?? (() => {});
  const connections = new Connections();
  const undone: number[] = [];
  const finished: number[] = [];
  try {
    const map = await newestPublishedMap(options.map, connections);
    for (const shard of map.shards) {
      const sql = connections.sql(shard);
      const moving = (await readFences(sql)).filter((f) => f.state === "moving").map((f) => f.logicalShard);
      if (moving.length === 0) continue;
      const stillHere = moving.filter((l) => physicalShardOf(map, l).name === shard.name);
      const gone = moving.filter((l) => physicalShardOf(map, l).name !== shard.name);
      if (stillHere.length > 0) {
        for (const other of map.shards) {
          if (other.name === shard.name) continue;
          const tables = await shardedTables(connections.sql(other), options.schemas);
          if (tables.length > 0) await deleteRows(connections.sql(other), tables, stillHere);
        }
        await liftFence(sql, stillHere);
        undone.push(...stillHere);
        log(`undid the interrupted move of ${describe(stillHere)}: ${shard.name} still owns it (map version ${map.version}); writes resume`);
      }
      if (gone.length > 0) {
        await sql.query("update public.boxoffice_shard_fence set state = 'moved', moved_at = now() where logical_shard = any($1::int[])", [gone]);
        finished.push(...gone);
        log(`finished the interrupted move of ${describe(gone)} away from ${shard.name} (map version ${map.version} already names the new owner)`);
      }
    }
  } finally {
    await connections.close();
  }
  const cleanup = await cleanupMovedCopies(options);
  return { undone, finished, cleanup };
}
