// A Postgres backend terminated under a client the pool has lent out (a failover, an operator's
// pg_terminate_backend, a database taken offline) must fail that work with the lib's retryable
// error, never end the process: node-postgres emits 'error' on the client, and a checked-out client
// no longer has the pool's idle listener.
import pg from "pg";
import { createTestDatabases, requirePostgres, waitFor, type TestDatabases } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShardUnavailableError } from "../src/index.ts";
import { openConnection } from "../src/connections.ts";

const postgres = await requirePostgres();

describe.skipIf(!postgres.available)("a pooled connection whose backend is terminated", () => {
  let databases: TestDatabases;
  const uncaught: unknown[] = [];
  const record = (error: unknown) => void uncaught.push(error);

  beforeAll(async () => {
    databases = await createTestDatabases(1, "bo_conn");
    // Collect what would kill a service process; vitest reports it too, but this names the test.
    process.on("uncaughtException", record);
  });
  afterAll(async () => {
    process.off("uncaughtException", record);
    await databases?.drop();
  });

  async function terminate(pid: number): Promise<void> {
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    try {
      await admin.query("select pg_terminate_backend($1)", [pid]);
      await waitFor(async () => (await admin.query("select 1 from pg_stat_activity where pid = $1", [pid])).rowCount === 0, { what: `backend ${pid} to be gone` });
    } finally {
      await admin.end();
    }
  }

  it("when the backend of a session in use is terminated, the session's next query fails as SHARD_UNAVAILABLE and the process lives on", async () => {
    const connection = openConnection("shard0", databases.urls[0]);
    try {
      const failure = await connection
        .withSession(async (session) => {
          const { rows } = await session.query<{ pid: number }>("select pg_backend_pid() as pid");
          await terminate(rows[0].pid);
          // The client hears of the termination on its own (no query in flight); then we ask.
          for (;;) await session.query("select 1");
        })
        .catch((error: unknown) => error);
      expect(uncaught, "an 'error' event on a checked-out client reached the process").toEqual([]);
      expect(failure).toBeInstanceOf(ShardUnavailableError);
      // The broken client is not lent out again: the next session works.
      const again = await connection.withSession(async (session) => (await session.query<{ one: number }>("select 1 as one")).rows[0].one);
      expect(again).toBe(1);
    } finally {
      await connection.close();
    }
  });

  it("when the backend of an open transaction is terminated, the transaction fails as SHARD_UNAVAILABLE and the process lives on", async () => {
    const connection = openConnection("shard0", databases.urls[0]);
    try {
      const failure = await connection.sql
        .transaction(async (tx) => {
          const { rows } = await tx.query<{ pid: number }>("select pg_backend_pid() as pid");
          await terminate(rows[0].pid);
          for (;;) await tx.query("select 1");
        })
        .catch((error: unknown) => error);
      expect(uncaught, "an 'error' event on a checked-out client reached the process").toEqual([]);
      expect(failure).toBeInstanceOf(ShardUnavailableError);
      const { rows } = await connection.sql.query<{ one: number }>("select 1 as one");
      expect(rows[0].one).toBe(1);
    } finally {
      await connection.close();
    }
  });

  it("when every pooled connection is busy past the connect timeout, a query fails as SHARD_UNAVAILABLE (a retryable 503), not as an internal error", async () => {
    const connection = openConnection("shard0", databases.urls[0], { poolSize: 1, connectTimeoutMs: 200 });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    try {
      const busy = connection.sql.transaction(async (tx) => {
        await tx.query("select 1");
        await held;
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const failure = await connection.sql.query("select 1").catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(ShardUnavailableError);
      release();
      await busy;
    } finally {
      release();
      await connection.close();
    }
  });

  it("when the database refuses new connections (taken off line), a query fails as SHARD_UNAVAILABLE, and works again once it accepts them", async () => {
    const connection = openConnection("shard0", databases.urls[0]);
    const name = new URL(databases.urls[0]).pathname.slice(1);
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    try {
      await admin.query(`alter database "${name}" allow_connections false`);
      const failure = await connection.sql.query("select 1").catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(ShardUnavailableError);
      await admin.query(`alter database "${name}" allow_connections true`);
      const { rows } = await connection.sql.query<{ one: number }>("select 1 as one");
      expect(rows[0].one).toBe(1);
    } finally {
      await admin.query(`alter database "${name}" allow_connections true`).catch(() => {});
      await admin.end();
      await connection.close();
    }
  });
});

describe.skipIf(!postgres.available)("statements prepared once per connection", () => {
  let databases: TestDatabases;
  beforeAll(async () => {
    databases = await createTestDatabases(1, "bo_prep");
  });
  afterAll(async () => {
    await databases?.drop();
  });

  it("when a parameterised statement runs again, it is the one prepared on that connection, and a column added under it does not break it", async () => {
    await preparedOnceAndAltered(openConnection("shard0", databases.urls[0], { poolSize: 1 }), "the read is a prepared statement of this (only) pooled connection");
  });
});

describe("statements prepared once per embedded database (PGlite)", () => {
  it("when a parameterised statement runs again, it is the one prepared on that database, and a column added under it does not break it", async () => {
    await preparedOnceAndAltered(openConnection("shard0", "pglite://memory/prepared-once"), "the read is one prepared statement of the database");
  });

  it("when values of every kind the services use go in and come out, a prepared statement answers exactly what PGlite's own query does, and errors keep their codes", async () => {
    const connection = openConnection("shard0", "pglite://memory/prepared-types");
    try {
      await connection.exec(`create table kinds (id bigint primary key, label text, flag boolean, amount numeric(10,2), at timestamptz, doc jsonb, tags text[], counts int[], note text)`);
      const insert = "insert into kinds (id, label, flag, amount, at, doc, tags, counts, note) values ($1, $2, $3, $4, $5, $6::jsonb, $7::text[], $8::int[], $9) returning *";
      const values = [9_007_199_254_740_993n, "é ✓ 'quoted'", true, "12.50", new Date("2026-12-07T22:00:00.123Z"), JSON.stringify({ a: [1, { b: null }] }), ["x", "y,z"], [1, 2, 3], null];
      const inserted = await connection.sql.query<Record<string, unknown>>(insert, values);
      expect(inserted.rowCount).toBe(1);
      const select = "select * from kinds where id = $1 and flag = $2";
      const prepared = await connection.sql.query<Record<string, unknown>>(select, [9_007_199_254_740_993n, true]);
      const { PGlite } = await import("@electric-sql/pglite");
      const plain = new PGlite();
      try {
        await plain.exec(`create table kinds (id bigint primary key, label text, flag boolean, amount numeric(10,2), at timestamptz, doc jsonb, tags text[], counts int[], note text)`);
        await plain.query(insert, values);
        const expected = await plain.query<Record<string, unknown>>(select, [9_007_199_254_740_993n, true]);
        expect(prepared.rows).toEqual(expected.rows);
        expect(inserted.rows).toEqual(expected.rows);
      } finally {
        await plain.close();
      }
      expect(prepared.rows[0]).toMatchObject({ id: 9_007_199_254_740_993n, label: "é ✓ 'quoted'", flag: true, doc: { a: [1, { b: null }] }, tags: ["x", "y,z"], counts: [1, 2, 3], note: null });
      // Row counts of writes, and a violation with its code (the services' conflict handling reads it).
      const updated = await connection.sql.query("update kinds set note = $1 where id = $2", ["n", 9_007_199_254_740_993n]);
      expect(updated.rowCount).toBe(1);
      const duplicate = await connection.sql.query(insert, values).catch((error: unknown) => error);
      expect((duplicate as { code?: string }).code).toBe("23505");
      // A failed statement aborts its transaction, which rolls back; the database goes on answering.
      const failed = await connection.sql
        .transaction(async (tx) => {
          await tx.query("update kinds set note = $1 where id = $2", ["in tx", 9_007_199_254_740_993n]);
          await tx.query(insert, values);
        })
        .catch((error: unknown) => error);
      expect((failed as { code?: string }).code).toBe("23505");
      expect((await connection.sql.query<{ note: string }>("select note from kinds where id = $1", [9_007_199_254_740_993n])).rows).toEqual([{ note: "n" }]);
    } finally {
      await connection.close();
    }
  });
});

/**
 * A read runs twice as one prepared statement, and keeps answering after columns are added under it
 * (a migration while running): at once outside a transaction; inside one the first attempt fails
 * (the error aborts the transaction) and a retry answers. Closes the connection.
 */
async function preparedOnceAndAltered(connection: ReturnType<typeof openConnection>, preparedOnce: string): Promise<void> {
  try {
    await connection.exec("create table items (id int primary key, name text); insert into items values (1, 'one'), (2, 'two')");
    const read = (id: number) => connection.sql.query<Record<string, unknown>>("select * from items where id = $1", [id]);
    expect((await read(1)).rows).toEqual([{ id: 1, name: "one" }]);
    expect((await read(2)).rows).toEqual([{ id: 2, name: "two" }]);
    const prepared = await connection.sql.query<{ n: number }>("select count(*)::int as n from pg_prepared_statements where statement = $1", ["select * from items where id = $1"]);
    expect(prepared.rows[0].n, preparedOnce).toBe(1);
    await connection.exec("alter table items add column price int default 5");
    expect((await read(2)).rows).toEqual([{ id: 2, name: "two", price: 5 }]);
    expect((await read(1)).rows).toEqual([{ id: 1, name: "one", price: 5 }]);
    const inTransaction = () => connection.sql.transaction((tx) => tx.query<Record<string, unknown>>("select * from items where name = $1", ["two"]));
    expect((await inTransaction()).rows).toEqual([{ id: 2, name: "two", price: 5 }]);
    await connection.exec("alter table items add column stock int default 7");
    await expect(inTransaction()).rejects.toThrow(/cached plan must not change result type/);
    expect((await inTransaction()).rows).toEqual([{ id: 2, name: "two", price: 5, stock: 7 }]);
  } finally {
    await connection.close();
  }
}
