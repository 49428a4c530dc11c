// Builds a real Postgres 15 streaming replica for the replica-routing test. The shared server on
// 127.0.0.1:5432 only allows replication if its pg_hba.conf has a `replication` line, and tests
// must not change that server's config; when it refuses, a private primary is initdb'd in a temp
// dir (trust auth, replication allowed) and the replica is taken from it. Needs root (to run the
// server binaries as the postgres user) and the Debian binaries in /usr/lib/postgresql/15/bin.
import { execFile } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, appendFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);
export const PG_BIN = "/usr/lib/postgresql/15/bin";

export interface ReplicaPair {
  /** URL of a database on the primary, with the example schema applied by the caller. */
  readonly primaryUrl: string;
  /** The same database on the streaming replica. */
  readonly replicaUrl: string;
  /** Where the primary came from: the shared server, or a private one (with the reason). */
  readonly source: string;
  stop(): Promise<void>;
}

/** Why a replica cannot be built here, or undefined when it can be tried. */
export function replicaUnsupportedReason(): string | undefined {
  if (process.getuid?.() !== 0) return "not running as root (needed to run Postgres as the postgres user)";
  if (!existsSync(join(PG_BIN, "pg_basebackup"))) return `no Postgres 15 binaries in ${PG_BIN}`;
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

async function asPostgres(binary: string, args: string[]): Promise<string> {
  const { stdout, stderr } = await run("runuser", ["-u", "postgres", "--", join(PG_BIN, binary), ...args], { timeout: 120_000 });
  return stdout + stderr;
}

const serverOptions = (port: number, dir: string) =>
  `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c shared_buffers=16MB -c max_connections=30 -c fsync=off`;

async function startServer(dataDir: string, port: number, socketDir: string): Promise<void> {
  await asPostgres("pg_ctl", ["-D", dataDir, "-o", serverOptions(port, socketDir), "-l", join(dataDir, "server.log"), "-w", "-t", "60", "start"]);
}

async function stopServer(dataDir: string): Promise<void> {
  if (existsSync(join(dataDir, "postmaster.pid"))) await asPostgres("pg_ctl", ["-D", dataDir, "-m", "immediate", "-w", "stop"]).catch(() => "");
}

/**
 * A primary database `dbName` (created by `prepare`) and its streaming replica that applies
 * changes `applyDelay` late (recovery_min_apply_delay), so replica lag is observable.
 */
export async function createStreamingReplica(options: { sharedServerUrl: string; dbName: string; applyDelay: string; prepare: (primaryUrl: string) => Promise<void> }): Promise<ReplicaPair> {
  const root = mkdtempSync(join(tmpdir(), "bo-replica-"));
  chmodSync(root, 0o755);
  const uid = Number((await run("id", ["-u", "postgres"])).stdout.trim());
  const gid = Number((await run("id", ["-g", "postgres"])).stdout.trim());
  chownSync(root, uid, gid);
  const dirs: string[] = [];
  let sharedDb: string | undefined;
  const cleanup = async () => {
    for (const dir of dirs.reverse()) await stopServer(dir);
    if (sharedDb) {
      const admin = new pg.Client({ connectionString: options.sharedServerUrl });
      await admin.connect();
      await admin.query(`drop database if exists "${sharedDb}" with (force)`).catch(() => {});
      await admin.end();
    }
    rmSync(root, { recursive: true, force: true });
  };
  try {
    let primaryPort: number;
    let primaryHostUrl: string;
    let source: string;
    // First choice: the running shared server, untouched.
    const shared = new URL(options.sharedServerUrl);
    const refusal = await replicationRefusal(options.sharedServerUrl);
    if (refusal === undefined) {
      primaryPort = Number(shared.port || 5432);
      primaryHostUrl = options.sharedServerUrl;
      source = `shared server ${shared.host}`;
      sharedDb = options.dbName;
    } else {
      const primaryDir = join(root, "primary");
      await asPostgres("initdb", ["-D", primaryDir, "-A", "trust", "-U", "postgres", "--no-sync"]);
      appendFileSync(join(primaryDir, "pg_hba.conf"), "\nhost replication all 127.0.0.1/32 trust\n");
      primaryPort = await freePort();
      dirs.push(primaryDir);
      await startServer(primaryDir, primaryPort, root);
      primaryHostUrl = `postgres://postgres@127.0.0.1:${primaryPort}/postgres`;
      source = `private primary on port ${primaryPort} (the shared server refuses replication: ${refusal})`;
    }
    const admin = new pg.Client({ connectionString: primaryHostUrl });
    await admin.connect();
    await admin.query(`create database "${options.dbName}"`);
    await admin.end();
    const primaryUrl = withDatabase(primaryHostUrl, options.dbName);
    await options.prepare(primaryUrl);

    const replicaDir = join(root, "replica");
    await asPostgres("pg_basebackup", ["-h", "127.0.0.1", "-p", String(primaryPort), "-U", "postgres", "-D", replicaDir, "-R", "-X", "stream", "-c", "fast", "--no-sync"]);
    appendFileSync(join(replicaDir, "postgresql.auto.conf"), `\nrecovery_min_apply_delay = '${options.applyDelay}'\n`);
    const replicaPort = await freePort();
    dirs.push(replicaDir);
    await startServer(replicaDir, replicaPort, root);
    const replicaUrl = withDatabase(`postgres://postgres@127.0.0.1:${replicaPort}/postgres`, options.dbName);
    return { primaryUrl, replicaUrl, source, stop: cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** Why the server refuses a replication connection from here, or undefined if it accepts one. */
async function replicationRefusal(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, replication: true, connectionTimeoutMillis: 3000 } as pg.ClientConfig);
  try {
    await client.connect();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}
