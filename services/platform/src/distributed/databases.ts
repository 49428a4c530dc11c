// Creating and dropping the physical shard databases of a distributed run. This is server
// administration (CREATE DATABASE), not data access: the services themselves reach their
// databases only through @boxoffice/sharding, and migrate them at start-up.
import { ensureDatabase } from "@boxoffice/sharding";
import pg from "pg";

const NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function checkName(name: string): string {
  if (!NAME.test(name)) throw new TypeError(`database name "${name}" must be lower-case letters, digits and _ (at most 63)`);
  return name;
}

/** The URL of database `name` on the same server (and credentials) as `serverUrl`. */
export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${checkName(name)}`;
  return url.toString();
}

async function withAdmin<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Creates each database that does not exist yet (the sharding lib's ensureDatabase); returns the ones it created. */
export async function ensureDatabases(serverUrl: string, names: string[]): Promise<string[]> {
  const created: string[] = [];
  for (const name of names) if (await ensureDatabase(databaseUrl(serverUrl, name))) created.push(name);
  return created;
}

export async function dropDatabases(serverUrl: string, names: string[]): Promise<void> {
  await withAdmin(serverUrl, async (client) => {
    for (const name of names.map(checkName)) await client.query(`drop database if exists "${name}" with (force)`);
  });
}

/**
 * Takes one database off line the way a failing shard looks to its clients: new connections are
 * refused (ALLOW_CONNECTIONS false) and every backend connected to it is terminated. Only that
 * database: the server and every other database carry on. Returns how many backends were ended.
 */
export async function takeDatabaseOffline(serverUrl: string, name: string): Promise<number> {
  return withAdmin(serverUrl, async (client) => {
    await client.query(`alter database "${checkName(name)}" allow_connections false`);
    const { rows } = await client.query<{ ended: boolean }>(`select pg_terminate_backend(pid) as ended from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`, [name]);
    return rows.filter((r) => r.ended).length;
  });
}

/** Lets clients connect to the database again (the end of takeDatabaseOffline's fault). */
export async function bringDatabaseOnline(serverUrl: string, name: string): Promise<void> {
  await withAdmin(serverUrl, async (client) => {
    await client.query(`alter database "${checkName(name)}" allow_connections true`);
  });
}
