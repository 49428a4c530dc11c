// The shard map is also published in every physical shard (table boxoffice_shard_map), so a
// running process learns about a shard move by polling its version, without a restart.
import type { SqlExecutor } from "./connections.ts";
import { parseShardMap, shardMapToJson } from "./shard-map.ts";
import type { ShardMap } from "./shard-map.ts";

const CREATE = `create table if not exists boxoffice_shard_map (
  id int primary key default 1 check (id = 1),
  version int not null,
  map jsonb not null,
  updated_at timestamptz not null default now()
)`;

/** The map stored in this shard, or undefined when none was published there yet. */
export async function readStoredShardMap(sql: SqlExecutor): Promise<ShardMap | undefined> {
  const exists = await sql.query<{ t: string | null }>("select to_regclass('boxoffice_shard_map')::text as t");
  if (!exists.rows[0]?.t) return undefined;
  const result = await sql.query<{ map: unknown }>("select map from boxoffice_shard_map where id = 1");
  if (result.rows.length === 0) return undefined;
  const raw = result.rows[0].map;
  return parseShardMap(typeof raw === "string" ? JSON.parse(raw) : raw);
}

/** Stores `map` unless the shard already holds the same or a newer version. Returns whether it wrote. */
export async function publishShardMap(sql: SqlExecutor, map: ShardMap): Promise<boolean> {
  await sql.query(CREATE);
  const result = await sql.query(
    `insert into boxoffice_shard_map (id, version, map) values (1, $1, $2::jsonb)
     on conflict (id) do update set version = excluded.version, map = excluded.map, updated_at = now()
     where boxoffice_shard_map.version < excluded.version`,
    [map.version, JSON.stringify(shardMapToJson(map))],
  );
  return result.rowCount > 0;
}
