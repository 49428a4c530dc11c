// A dir-backed embedded database keeps its relation files' lengths in memory instead of asking the
// file system at every seek to the end (pglite-file-sizes.ts). Postgres decides where a row goes and
// how far a scan reads from that length, so it must follow every growth and every truncation.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { disposeEmbeddedDatabase, openConnection } from "../src/connections.ts";

describe("an embedded database in a data dir", () => {
  const dir = mkdtempSync(join(tmpdir(), "bo-pglite-sizes-"));
  const url = `pglite://${dir}`;
  afterAll(async () => {
    await disposeEmbeddedDatabase(url);
    rmSync(dir, { recursive: true, force: true });
  });

  async function sizes(connection: ReturnType<typeof openConnection>) {
    const { rows: [row] } = await connection.sql.query<{ bytes: string; path: string }>("SELECT pg_relation_size('t')::text AS bytes, pg_relation_filepath('t') AS path");
    return { seen: Number(row.bytes), onDisk: statSync(join(dir, row.path)).size };
  }

  it("when a table grows, shrinks by vacuum and grows again, Postgres sees the length the file has, and the rows survive a reopen", async () => {
    let connection = openConnection("s0", url);
    await connection.exec("CREATE TABLE t (id int PRIMARY KEY, v text)");
    await connection.sql.query("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g");
    const grown = await sizes(connection);
    expect(grown.seen).toBeGreaterThan(0);
    expect(grown.seen).toBe(grown.onDisk);

    await connection.sql.query("DELETE FROM t WHERE id > 2000");
    await connection.exec("VACUUM t");
    const shrunk = await sizes(connection);
    expect(shrunk.seen).toBeLessThan(grown.seen);
    expect(shrunk.seen).toBe(shrunk.onDisk);

    await connection.sql.query("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(2001, 30000) g");
    const regrown = await sizes(connection);
    expect(regrown.seen).toBe(regrown.onDisk);
    const { rows: [before] } = await connection.sql.query<{ n: number; s: string }>("SELECT count(*)::int AS n, sum(id)::text AS s FROM t");
    expect(before).toEqual({ n: 30000, s: String((30000 * 30001) / 2) });

    await connection.close();
    connection = openConnection("s0", url);
    const { rows: [after] } = await connection.sql.query<{ n: number; s: string }>("SELECT count(*)::int AS n, sum(id)::text AS s FROM t");
    expect(after).toEqual(before);
    await connection.close();
  });
});
