// Applies Prisma-format migrations (prisma/migrations/<timestamp>_<name>/migration.sql) to every
// physical shard without the Prisma CLI (it cannot fetch its engine offline). Each shard is
// migrated under a lock (pg advisory lock on Postgres; PGlite lives in one process, so an
// in-process lock suffices) and every applied file is recorded with its checksum.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { openConnection } from "./connections.ts";
import type { SqlExecutor } from "./connections.ts";
import { MigrationError } from "./errors.ts";
import { FENCE_TABLE_SQL } from "./fence.ts";
import type { ShardMap } from "./shard-map.ts";

export interface MigrationFile {
  /** Folder name, e.g. 20261122040000_init; applied in this (lexical = time) order. */
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

export interface MigrateOptions {
  map: ShardMap;
  /** The service's prisma/migrations folder. */
  migrationsDir: string;
  /** Recorded with each migration so services sharing a database keep separate histories. Default: the folder above prisma/. */
  service?: string;
  /** Progress lines (default: silent). Only primaries are migrated: replicas follow them. */
  log?: (line: string) => void;
}

export interface MigrateResult {
  /** Per physical shard: the migrations applied now (empty when already up to date). */
  readonly applied: Record<string, string[]>;
}

const LOCK_KEY = 727_017_001; // arbitrary constant: "boxoffice migrations" advisory lock id

const RECORD_TABLE = `create table if not exists boxoffice_migrations (
  service text not null,
  name text not null,
  checksum text not null,
  applied_at timestamptz not null default now(),
  primary key (service, name)
)`;

export function readMigrations(migrationsDir: string): MigrationFile[] {
  if (!existsSync(migrationsDir)) throw new MigrationError(`migrations folder ${migrationsDir} does not exist`, { migrationsDir });
  return readdirSync(migrationsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(migrationsDir, entry.name, "migration.sql")))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(migrationsDir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

function defaultService(migrationsDir: string): string {
  const abs = resolve(migrationsDir);
  const prismaDir = dirname(abs);
  return basename(prismaDir) === "prisma" ? basename(dirname(prismaDir)) : basename(prismaDir);
}

const inProcessLocks = new Map<string, Promise<unknown>>();

async function withInProcessLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = inProcessLocks.get(key) ?? Promise.resolve();
  const run = previous.then(fn, fn);
  const settled = run.catch(() => {});
  inProcessLocks.set(key, settled);
  try {
    return await run;
  } finally {
    if (inProcessLocks.get(key) === settled) inProcessLocks.delete(key);
  }
}

async function applyPending(session: SqlExecutor, shard: string, service: string, files: MigrationFile[], log: (line: string) => void): Promise<string[]> {
  await session.query(RECORD_TABLE);
  // Shard moves' fence: present everywhere so stores can skip fenced rows (NOT_FENCED).
  await session.exec(FENCE_TABLE_SQL);
  const done = await session.query<{ name: string; checksum: string }>("select name, checksum from boxoffice_migrations where service = $1", [service]);
  const applied = new Map(done.rows.map((r) => [r.name, r.checksum]));
  const now: string[] = [];
  for (const file of files) {
    const recorded = applied.get(file.name);
    if (recorded !== undefined) {
      if (recorded !== file.checksum) {
        throw new MigrationError(`migration ${file.name} of ${service} was changed after it was applied to shard "${shard}" (checksum differs); add a new migration instead`, {
          shard,
          migration: file.name,
        });
      }
      continue;
    }
    try {
      // One transaction per migration: the schema change and its record land together or not at
      // all. On PGlite this is its exclusive transaction, so other users of the same embedded
      // database (the one-process host) wait instead of slipping into it.
      await session.transaction(async (tx) => {
        await tx.exec(file.sql);
        await tx.query("insert into boxoffice_migrations (service, name, checksum) values ($1, $2, $3)", [service, file.name, file.checksum]);
      });
    } catch (error) {
      throw new MigrationError(`migration ${file.name} of ${service} failed on shard "${shard}": ${(error as Error).message}`, { shard, migration: file.name }, error);
    }
    log(`[migrate] ${shard}: applied ${service}/${file.name}`);
    now.push(file.name);
  }
  return now;
}

/** Applies pending migrations to every physical shard's primary; idempotent and safe to run concurrently. */
export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  const files = readMigrations(options.migrationsDir);
  const service = options.service ?? defaultService(options.migrationsDir);
  const log = options.log ?? (() => {});
  const applied: Record<string, string[]> = {};
  for (const shard of options.map.shards) {
    const connection = openConnection(shard.name, shard.primary, { poolSize: 1 });
    try {
      if (connection.kind === "pglite") {
        applied[shard.name] = await withInProcessLock(shard.primary, () => applyPending(connection.sql, shard.name, service, files, log));
      } else {
        // One session holds the advisory lock for the whole run; a second process waits on it.
        applied[shard.name] = await connection.withSession(async (session) => {
          await session.query("select pg_advisory_lock($1)", [LOCK_KEY]);
          try {
            return await applyPending(session, shard.name, service, files, log);
          } finally {
            await session.query("select pg_advisory_unlock($1)", [LOCK_KEY]).catch(() => {});
          }
        });
      }
    } finally {
      await connection.close();
    }
  }
  return { applied };
}
