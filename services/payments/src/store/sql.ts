// The raw SQL access this service needs from the shard router (a narrow port of @boxoffice/sharding's
// SqlExecutor, so tests can stand in for it), and the helpers every store here uses.

import type { SqlResult } from "@boxoffice/sharding";

export type { SqlResult } from "@boxoffice/sharding";

export interface Sql {
  readonly shard: string;
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<SqlResult<Row>>;
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
}

/** Where payments's rows live: the router's raw SQL access, by key, by id, or every shard. */
export interface ShardSql {
  forKey(key: string): Sql;
  forId(id: string): Sql;
  all(): Sql[];
  logicalShardOf(key: string): number;
  logicalShardOfId(id: string): number;
}

// The transaction retry and timestamp conversion are the sharding lib's, shared by every store.
export { NOT_FENCED, toIsoTimestamp as toIso, withTransientRetry as withRetry } from "@boxoffice/sharding";
