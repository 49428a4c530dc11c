// Raw SQL over every physical shard of a map, through the sharding lib's router: the invariant
// checks read both services' tables directly (tests only; services never read each other's data).
import { createShardRouter, type ShardMap } from "@boxoffice/sharding";

export function openRaw(map: ShardMap): { query<Row>(text: string, params?: unknown[]): Promise<Row[]>; close(): Promise<void> } {
  const router = createShardRouter({ map, createClient: () => undefined, mapRefreshMs: 0 });
  return {
    async query<Row>(text: string, params: unknown[] = []) {
      const results = await Promise.all(router.sql.all().map((s) => s.sql.query<Row>(text, params)));
      return results.flatMap((r) => r.rows);
    },
    close: () => router.close(),
  };
}
