// Creating and dropping the physical shard databases of a distributed run. This is server
// administration (CREATE DATABASE), not data access: the services themselves reach their
// databases only through @boxoffice/sharding, and migrate them at start-up.
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

/** Creates each database that does not exist yet; returns the ones it created. */
export async function ensureDatabases(serverUrl: string, names: string[]): Promise<string[]> {
  return withAdmin(serverUrl, async (client) => {
    const existing = await client.query<{ datname: string }>("select datname from pg_database where datname = any($1)", [names]);
    const have = new Set(existing.rows.map((row) => row.datname));
    const created: string[] = [];
    for (const name of names.map(checkName)) {
      if (have.has(name)) continue;
      try {
        await client.query(`create database "${name}"`);
        created.push(name);
      } catch (error) {
        // 42P04 duplicate_database: another run created it at the same moment, which is as good.
        if ((error as { code?: string }).code !== "42P04") throw error;
      }
    }
    return created;
  });
}

export async function dropDatabases(serverUrl: string, names: string[]): Promise<void> {
  await withAdmin(serverUrl, async (client) => {
    for (const name of names.map(checkName)) await client.query(`drop database if exists "${name}" with (force)`);
  });
}
