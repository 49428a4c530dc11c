// Growing a sharded store: a physical shard joins owning nothing (addShard), then logical shards
// move to it batch by batch until every physical shard owns an even range (rebalance). Each batch
// is an ordinary move (fence, copy, publish); old copies are deleted in the background once their
// grace period is over. A killed rebalance is resumed by running it again: it first finishes or
// undoes the interrupted batch (recoverInterruptedMoves), then plans from the published map.
import pg from "pg";
import { migrate } from "./migrate.ts";
import { openConnection } from "./connections.ts";
import { ShardMapInvalidError } from "./errors.ts";
import { publishShardMap } from "./map-store.ts";
import { cleanupMovedCopies, DEFAULT_MOVE_OPTIONS, moveLogicalShards, newestPublishedMap, recoverInterruptedMoves } from "./move.ts";
import { addPhysicalShard, planRebalance, singleShardMap } from "./shard-map.ts";
import type { RebalanceStep, ShardMap } from "./shard-map.ts";

export interface AddShardOptions {
  map: ShardMap;
  name: string;
  /** postgres://… of the new primary; its database is created when missing. */
  url: string;
  /** The service's prisma/migrations folder, applied to the new shard before it joins. */
  migrationsDir: string;
  service: string;
  log?: (line: string) => void;
}

/** Creates (if missing) and migrates a new physical shard, then publishes a map where it owns nothing. */
export async function addShard(options: AddShardOptions): Promise<ShardMap> {
  const log = options.log ?? (() => {});
  if (!/^postgres(ql)?:\/\//.test(options.url)) {
    throw new ShardMapInvalidError(`a shard added while services run must be a postgres:// URL (an embedded pglite:// database lives inside one process), got ${options.url}`);
  }
  const map = await newestPublishedMap(options.map);
  const next = addPhysicalShard(map, { name: options.name, primary: options.url });
  if (await ensureDatabase(options.url)) log(`created database ${new URL(options.url).pathname.slice(1)}`);
  const alone = singleShardMap(options.url, { name: options.name });
  const { applied } = await migrate({ map: alone, migrationsDir: options.migrationsDir, service: options.service, log });
  log(`migrated ${options.name}: ${applied[options.name].length} migration(s) applied`);
  for (const shard of next.shards) {
    const connection = openConnection(shard.name, shard.primary, { poolSize: 1 });
    try {
      await publishShardMap(connection.sql, next);
    } finally {
      await connection.close();
    }
  }
  log(`published map version ${next.version}: ${options.name} joined, owning no logical shard yet`);
  return next;
}

/** Creates the database of `url` on its server when it does not exist; true when it created it. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)) throw new ShardMapInvalidError(`database name "${name}" must be letters, digits and _`);
  const admin = new URL(url);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const found = await client.query("select 1 from pg_database where datname = $1", [name]);
    if (found.rowCount) return false;
    try {
      await client.query(`create database "${name}"`);
    } catch (error) {
      if ((error as { code?: string }).code !== "42P04") throw error; // created by someone else meanwhile
      return false;
    }
    return true;
  } finally {
    await client.end().catch(() => {});
  }
}

export interface RebalanceProgress {
  readonly step: number;
  readonly steps: number;
  readonly logicalShardsMoved: number;
  readonly logicalShardsTotal: number;
  readonly rowsMoved: number;
  readonly last?: RebalanceStep;
}

export interface RebalanceOptions {
  map: ShardMap;
  schemas: readonly string[];
  /** Logical shards per batch (one fence, one copy, one map version). Default 64. */
  batchSize?: number;
  /** Rows copied per second at most, averaged over the run (an on-sale keeps its database). Default 20,000. */
  maxRowsPerSecond?: number;
  /** Pause between batches. Default 200 ms. */
  pauseMs?: number;
  graceMs?: number;
  /** Stop after this many batches (the rest is left for the next run). */
  maxSteps?: number;
  onProgress?: (progress: RebalanceProgress) => void;
  log?: (line: string) => void;
}

export interface RebalanceResult {
  readonly map: ShardMap;
  readonly steps: number;
  readonly logicalShardsMoved: number;
  readonly rowsMoved: number;
  /** Steps still planned (when maxSteps stopped early). */
  readonly remaining: number;
}

export async function rebalance(options: RebalanceOptions): Promise<RebalanceResult> {
  const log = options.log ?? (() => {});
  const graceMs = options.graceMs ?? DEFAULT_MOVE_OPTIONS.graceMs;
  const maxRowsPerSecond = options.maxRowsPerSecond ?? 20_000;
  const pauseMs = options.pauseMs ?? 200;
  const recovered = await recoverInterruptedMoves({ map: options.map, schemas: options.schemas, graceMs, log });
  if (recovered.undone.length + recovered.finished.length > 0) log(`resumed: ${recovered.undone.length} logical shards undone, ${recovered.finished.length} finished`);
  let map = await newestPublishedMap(options.map);
  const plan = planRebalance(map, options.batchSize ?? 64);
  const total = plan.reduce((n, s) => n + s.logicalShards.length, 0);
  const steps = Math.min(plan.length, options.maxSteps ?? Infinity);
  let moved = 0;
  let rows = 0;
  const started = performance.now();
  options.onProgress?.({ step: 0, steps: plan.length, logicalShardsMoved: 0, logicalShardsTotal: total, rowsMoved: 0 });
  for (let i = 0; i < steps; i++) {
    const step = plan[i];
    const result = await moveLogicalShards({ map, logicalShards: step.logicalShards, to: step.to, schemas: options.schemas, graceMs, deferCleanup: true, log });
    map = result.map;
    moved += step.logicalShards.length;
    rows += Object.values(result.rows).reduce((a, b) => a + b, 0);
    options.onProgress?.({ step: i + 1, steps: plan.length, logicalShardsMoved: moved, logicalShardsTotal: total, rowsMoved: rows, last: step });
    await cleanupMovedCopies({ map, schemas: options.schemas, graceMs, log });
    // Rate limit: never ahead of maxRowsPerSecond since the start, and a pause between batches.
    const aheadMs = (rows / maxRowsPerSecond) * 1000 - (performance.now() - started);
    await new Promise((r) => setTimeout(r, Math.max(pauseMs, aheadMs)));
  }
  // The last batches' old copies: wait out their grace period, then delete them.
  for (;;) {
    const cleanup = await cleanupMovedCopies({ map, schemas: options.schemas, graceMs, log });
    if (cleanup.waiting === 0) break;
    await new Promise((r) => setTimeout(r, Math.min(1000, graceMs)));
  }
  return { map, steps, logicalShardsMoved: moved, rowsMoved: rows, remaining: plan.length - steps };
}
