// The raw SQL access the shard router gives (the same shape as @boxoffice/sharding's SqlExecutor),
// and the retry that every contended transaction here goes through.

export interface SqlResult<Row> {
  readonly rows: Row[];
  readonly rowCount: number;
}

export interface Sql {
  readonly shard: string;
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<SqlResult<Row>>;
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
}

/** Where inventory's rows live: the router's raw SQL access, by key, by id, or every shard. */
export interface ShardSql {
  forKey(key: string): Sql;
  forId(id: string): Sql;
  all(): Sql[];
  logicalShardOf(key: string): number;
  logicalShardOfId(id: string): number;
}

// Deadlock and serialization failures are the database telling us to try again; the transactions
// here are short and idempotent on retry.
const RETRYABLE = new Set(["40P01", "40001"]);

export async function withRetry<T>(fn: () => Promise<T>, attempts = 8): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (attempt >= attempts || typeof code !== "string" || !RETRYABLE.has(code)) throw error;
      await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
    }
  }
}

export function toIso(value: unknown): string {
  return value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString();
}
