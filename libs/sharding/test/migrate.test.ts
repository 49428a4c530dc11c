import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { requirePostgres } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MigrationError, createShardRouter, createTestShardMap, disposeEmbeddedDatabase, migrate, shardMapToJson, singleShardMap } from "../src/index.ts";
import type { TestShardMap } from "../src/index.ts";
import { EXAMPLE_MIGRATIONS } from "./example/paths.ts";

const run = promisify(execFile);
const root = join(import.meta.dirname, "../../..");
const postgres = await requirePostgres();

describe.skipIf(!postgres.available)("migrate on Postgres", () => {
  let shards: TestShardMap;
  let work: string;

  beforeAll(async () => {
    shards = await createTestShardMap({ kind: "postgres", physical: 2, prefix: "bo_migrate" });
    work = mkdtempSync(join(tmpdir(), "bo-migrate-"));
    cpSync(EXAMPLE_MIGRATIONS, join(work, "prisma", "migrations"), { recursive: true });
  });

  afterAll(async () => {
    await shards?.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("when two processes start at once, each shard gets every migration exactly once and both succeed", async () => {
    const env = { ...process.env, SHARD_MAP: JSON.stringify(shardMapToJson(shards.map)) };
    const node = process.execPath;
    const cli = join(root, "tools/migrate.ts");
    const args = [cli, "--migrations", join(work, "prisma", "migrations")];
    const [a, b] = await Promise.all([run(node, args, { env, cwd: root }), run(node, args, { env, cwd: root })]);
    const appliedLines = (a.stdout + b.stdout).split("\n").filter((l) => l.includes("applied ") && l.startsWith("[migrate]"));
    expect(appliedLines.length).toBe(2); // one per shard, by whichever process got the lock first
    const router = createShardRouter({ map: shards.map, createClient: () => ({}), mapRefreshMs: 0 });
    try {
      for (const { sql } of router.sql.all()) {
        const { rows } = await sql.query<{ name: string }>("select name from boxoffice_migrations");
        expect(rows.map((r) => r.name)).toEqual(["20261122040000_init"]);
        const tables = await sql.query<{ t: string | null }>("select to_regclass('entries')::text as t");
        expect(tables.rows[0].t).toBe("entries");
      }
    } finally {
      await router.close();
    }
  });

  it("when run again, nothing is applied; when an applied migration was edited, it refuses with MIGRATION_FAILED", async () => {
    const again = await migrate({ map: shards.map, migrationsDir: join(work, "prisma", "migrations") });
    expect(Object.values(again.applied).flat()).toEqual([]);
    writeFileSync(join(work, "prisma", "migrations", "20261122040000_init", "migration.sql"), "-- edited\nselect 1;\n");
    const error = await migrate({ map: shards.map, migrationsDir: join(work, "prisma", "migrations") }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as MigrationError).message).toContain("was changed after it was applied");
  });

  it("when a new migration is added, only it is applied, and a failing one leaves no trace", async () => {
    const dir = join(work, "prisma", "migrations");
    cpSync(EXAMPLE_MIGRATIONS, dir, { recursive: true }); // restore the edited file
    cpSync(join(dir, "20261122040000_init"), join(dir, "20261122050000_tags"), { recursive: true });
    writeFileSync(join(dir, "20261122050000_tags", "migration.sql"), 'ALTER TABLE "accounts" ADD COLUMN "tag" TEXT;\n');
    const result = await migrate({ map: shards.map, migrationsDir: dir });
    expect(Object.values(result.applied)).toEqual([["20261122050000_tags"], ["20261122050000_tags"]]);
    cpSync(join(dir, "20261122040000_init"), join(dir, "20261122060000_broken"), { recursive: true });
    writeFileSync(join(dir, "20261122060000_broken", "migration.sql"), 'ALTER TABLE "accounts" ADD COLUMN "x" INT;\nALTER TABLE "nope" ADD COLUMN "y" INT;\n');
    await expect(migrate({ map: shards.map, migrationsDir: dir })).rejects.toThrow(/20261122060000_broken .*failed on shard "shard0"/);
    const router = createShardRouter({ map: shards.map, createClient: () => ({}), mapRefreshMs: 0 });
    try {
      const { rows } = await router.sql.forShard("shard0").query<{ n: number }>("select count(*)::int as n from information_schema.columns where table_name = 'accounts' and column_name = 'x'");
      expect(rows[0].n).toBe(0);
    } finally {
      await router.close();
    }
  });
});

describe("migrate on PGlite", () => {
  it("when a data dir is migrated twice the second run finds nothing to do, and another service can migrate it while it is queried", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bo-pglite-"));
    const map = singleShardMap(`pglite://${dir}`);
    try {
      expect((await migrate({ map, migrationsDir: EXAMPLE_MIGRATIONS })).applied).toEqual({ shard0: ["20261122040000_init"] });
      expect((await migrate({ map, migrationsDir: EXAMPLE_MIGRATIONS })).applied).toEqual({ shard0: [] });
      const router = createShardRouter({ map, createClient: () => ({}), mapRefreshMs: 0 });
      // A second service migrating the same embedded database while the first one queries it (the
      // one-process host): the migration runs in PGlite's exclusive transaction, queries wait.
      const other = join(dir, "other", "prisma", "migrations", "20261122070000_things");
      mkdirSync(other, { recursive: true });
      writeFileSync(join(other, "migration.sql"), 'CREATE TABLE "things" ("id" BIGINT PRIMARY KEY);\nINSERT INTO "things" VALUES (1);\n');
      const [applied, counts] = await Promise.all([
        migrate({ map, migrationsDir: join(dir, "other", "prisma", "migrations") }),
        Promise.all(Array.from({ length: 20 }, () => router.sql.forKey("x").query<{ n: number }>("select count(*)::int as n from accounts"))),
      ]);
      expect(applied.applied).toEqual({ shard0: ["20261122070000_things"] });
      expect(counts.every((c) => c.rows[0].n === 0)).toBe(true);
      const { rows } = await router.sql.forKey("x").query<{ service: string }>("select service from boxoffice_migrations order by service");
      expect(rows).toEqual([{ service: "example" }, { service: "other" }]);
      await router.close();
    } finally {
      await disposeEmbeddedDatabase(`pglite://${dir}`);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
