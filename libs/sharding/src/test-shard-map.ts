// A throwaway shard map for tests: fresh Postgres databases (dropped after) or in-memory PGlite
// instances (disposed after), split evenly over `physical` shards.
import { createTestDatabases } from "@boxoffice/testkit";
import { randomBytes } from "node:crypto";
import { disposeEmbeddedDatabase } from "./connections.ts";
import { evenShardMap } from "./shard-map.ts";
import type { ShardMap } from "./shard-map.ts";

export interface TestShardMap {
  readonly map: ShardMap;
  /** The primary URLs, in shard order. */
  readonly urls: string[];
  /** Drops the databases / disposes the embedded instances. */
  drop(): Promise<void>;
}

export async function createTestShardMap(options: { kind: "postgres" | "pglite"; physical: number; prefix?: string }): Promise<TestShardMap> {
  if (options.kind === "postgres") {
    const dbs = await createTestDatabases(options.physical, options.prefix ?? "bo_shard");
    return { map: evenShardMap(dbs.urls), urls: dbs.urls, drop: () => dbs.drop() };
  }
  const tag = randomBytes(4).toString("hex");
  const urls = Array.from({ length: options.physical }, (_, i) => `pglite://memory/${options.prefix ?? "test"}_${tag}_${i}`);
  return {
    map: evenShardMap(urls),
    urls,
    async drop() {
      for (const url of urls) await disposeEmbeddedDatabase(url);
    },
  };
}
