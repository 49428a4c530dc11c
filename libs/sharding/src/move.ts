// Moving one logical shard to another physical shard while the system runs:
//  1. fence it on the source: a trigger on every sharded table refuses writes to that logical
//     shard (SHARD_MOVING, retryable); creating the trigger waits for in-flight writes, so after
//     it commits the source copy is final;
//  2. copy its rows (every table with a `logical_shard` column) to the target;
//  3. publish the new map (version + 1) to every primary and turn the fence to SHARD_MOVED, so a
//     process still on the old map is told to reload it (routers also poll the version);
//  4. delete the old copy.
// The fence stays on the source afterwards (one primary-key lookup per written row there) so a
// process that missed the new map can never write to the old place.
import { openConnection } from "./connections.ts";
import type { Connection, SqlExecutor } from "./connections.ts";
import { ShardMapInvalidError } from "./errors.ts";
import { isLogicalShard } from "./logical-shard.ts";
import { publishShardMap, readStoredShardMap } from "./map-store.ts";
import { physicalShardOf, reassignLogicalShard } from "./shard-map.ts";
import type { ShardMap } from "./shard-map.ts";

export interface MoveOptions {
  /** The map this process knows; a newer published version found on the shards wins. */
  map: ShardMap;
  logicalShard: number;
  /** Name of the target physical shard. */
  to: string;
  log?: (line: string) => void;
}

export interface MoveResult {
  readonly map: ShardMap;
  readonly from: string;
  readonly to: string;
  /** Rows copied per table. */
  readonly rows: Record<string, number>;
}

const FENCE_TABLE = "create table if not exists boxoffice_shard_fence (logical_shard int primary key, state text not null)";
const FENCE_FUNCTION = `create or replace function boxoffice_shard_fence_check() returns trigger language plpgsql as $fence$
declare
  l int;
  s text;
begin
  if tg_op = 'DELETE' then l := old.logical_shard; else l := new.logical_shard; end if;
  select state into s from boxoffice_shard_fence where logical_shard = l;
  if s is not null then
    raise exception 'SHARD_%:%', upper(s), l using errcode = 'P0001';
  end if;
  if tg_op = 'DELETE' then return old; end if;
  return new;
end
$fence$;`;

/** Tables of the app (not ours) that carry a logical_shard column: the rows a move carries. */
async function shardedTables(sql: SqlExecutor): Promise<string[]> {
  const { rows } = await sql.query<{ table_name: string }>(
    `select c.table_name from information_schema.columns c
       join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name and t.table_type = 'BASE TABLE'
      where c.column_name = 'logical_shard' and c.table_schema = current_schema() and c.table_name not like 'boxoffice\\_%'
      order by c.table_name`,
  );
  return rows.map((r) => r.table_name);
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

async function newestMap(map: ShardMap, connections: Map<string, Connection>): Promise<ShardMap> {
  let newest = map;
  for (const shard of map.shards) {
    const stored = await readStoredShardMap(connection(connections, shard.name, shard.primary).sql);
    if (stored && stored.version > newest.version) newest = stored;
  }
  return newest;
}

function connection(connections: Map<string, Connection>, name: string, url: string): Connection {
  let found = connections.get(url);
  if (!found) {
    found = openConnection(name, url, { poolSize: 2 });
    connections.set(url, found);
  }
  return found;
}

export async function moveLogicalShard(options: MoveOptions): Promise<MoveResult> {
  const { logicalShard, to } = options;
  const log = options.log ?? (() => {});
  if (!isLogicalShard(logicalShard)) throw new RangeError(`logical shard must be an integer 0–4095, got ${logicalShard}`);
  const connections = new Map<string, Connection>();
  try {
    const map = await newestMap(options.map, connections);
    const target = map.shards.find((s) => s.name === to);
    if (!target) throw new ShardMapInvalidError(`no physical shard named "${to}" in the shard map (version ${map.version})`, { shard: to });
    const source = physicalShardOf(map, logicalShard);
    if (source.name === to) {
      log(`logical shard ${logicalShard} already lives on ${to} (map version ${map.version})`);
      return { map, from: source.name, to, rows: {} };
    }
    const src = connection(connections, source.name, source.primary).sql;
    const dst = connection(connections, target.name, target.primary).sql;
    const tables = await shardedTables(src);
    const targetTables = new Set(await shardedTables(dst));
    const missing = tables.filter((t) => !targetTables.has(t));
    if (missing.length > 0) throw new ShardMapInvalidError(`target shard "${to}" lacks tables ${missing.join(", ")}: migrate it first`, { shard: to, missing });
    // Every primary holds the map before anything changes, so routers can follow it.
    for (const shard of map.shards) await publishShardMap(connection(connections, shard.name, shard.primary).sql, map);

    log(`fencing logical shard ${logicalShard} on ${source.name} (writes get SHARD_MOVING)`);
    // One transaction: (re)creating the triggers waits for every in-flight write to those tables
    // and holds new ones until the fence row is committed with them, so the copy that follows
    // sees everything that will ever be written to this logical shard on the source.
    await src.transaction(async (tx) => {
      await tx.query(FENCE_TABLE);
      await tx.query(FENCE_FUNCTION);
      for (const table of tables) {
        await tx.query(`drop trigger if exists boxoffice_shard_fence on ${quote(table)}`);
        await tx.query(`create trigger boxoffice_shard_fence before insert or update or delete on ${quote(table)} for each row execute function boxoffice_shard_fence_check()`);
      }
      await tx.query("insert into boxoffice_shard_fence (logical_shard, state) values ($1, 'moving') on conflict (logical_shard) do update set state = 'moving'", [logicalShard]);
    });

    const rows: Record<string, number> = {};
    await dst.transaction(async (tx) => {
      // Replica role: no triggers, no foreign-key checks, so tables can be filled in any order.
      await tx.query("set local session_replication_role = replica");
      // The target may have given this logical shard away before: lift its old fence.
      await tx.query(FENCE_TABLE);
      await tx.query("delete from boxoffice_shard_fence where logical_shard = $1", [logicalShard]);
      for (const table of tables) {
        const data = await src.query<{ rows: string }>(`select coalesce(json_agg(t), '[]')::text as rows from ${quote(table)} t where logical_shard = $1`, [logicalShard]);
        const copied = await tx.query(`insert into ${quote(table)} select * from json_populate_recordset(null::${quote(table)}, $1::json) on conflict do nothing`, [data.rows[0].rows]);
        rows[table] = copied.rowCount;
      }
    });
    log(`copied ${JSON.stringify(rows)} to ${to}`);

    const next = reassignLogicalShard(map, logicalShard, to);
    for (const shard of next.shards) await publishShardMap(connection(connections, shard.name, shard.primary).sql, next);
    await src.query("update boxoffice_shard_fence set state = 'moved' where logical_shard = $1", [logicalShard]);
    log(`published map version ${next.version}: logical shard ${logicalShard} → ${to}`);

    await src.transaction(async (tx) => {
      await tx.query("set local session_replication_role = replica");
      for (const table of tables) await tx.query(`delete from ${quote(table)} where logical_shard = $1`, [logicalShard]);
    });
    log(`deleted the old copy on ${source.name}`);
    return { map: next, from: source.name, to, rows };
  } finally {
    for (const c of connections.values()) await c.close();
  }
}
