// The fence of shard moves: one row per logical shard that is moving away from (or has moved
// away from) this physical shard. Every primary has the table (migrate creates it), so stores can
// leave fenced rows alone in the queries that sweep a whole physical shard.

export const FENCE_TABLE_SQL = `create table if not exists public.boxoffice_shard_fence (logical_shard int primary key, state text not null, moved_at timestamptz);
alter table public.boxoffice_shard_fence add column if not exists moved_at timestamptz`;

/**
 * A condition for queries that sweep a whole physical shard (outbox relays, expiry sweeps): skip
 * rows of logical shards that are moving or moved away. Those rows are a frozen copy: the new
 * owner relays and sweeps them, and writing them here would fail with SHARD_MOVING/SHARD_MOVED.
 * Use as `... WHERE <other conditions> AND ${NOT_FENCED}` on a table with a logical_shard column.
 */
export const NOT_FENCED = "logical_shard NOT IN (SELECT logical_shard FROM public.boxoffice_shard_fence)";
