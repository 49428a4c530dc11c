// The prod shard maps carry `?sslmode=verify-full&sslrootcert=<CA file>` (infra/k8s/overlays/prod):
// openConnection hands the URL to node-postgres unchanged, and pg (pg-connection-string) must then
// speak TLS, trust only that CA and check the host name. A fake server answers Postgres's SSLRequest
// with "S" and completes (or not) a TLS handshake with a certificate for "localhost".
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openConnection } from "../src/connections.ts";
import { ensureDatabase } from "../src/rebalance.ts";

const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;
if (!hasOpenssl) console.warn("[skip] openssl is not installed: the Postgres TLS verification tests are skipped");

const dir = mkdtempSync(join(tmpdir(), "bo-pg-tls-"));
let server: Server;
let port = 0;
/** What the fake server saw: an SSLRequest first, and TLS handshakes that completed. */
const seen = { sslRequests: 0, handshakes: 0 };

function selfSigned(name: string): void {
  const made = spawnSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", join(dir, `${name}.key`), "-out", join(dir, `${name}.crt`), "-days", "1",
    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
  ]);
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr.toString()}`);
}

beforeAll(async () => {
  if (!hasOpenssl) return;
  selfSigned("server"); // the "cluster CA" (self-signed: the server's certificate is its own root)
  selfSigned("other"); // another CA that also signs a "localhost" certificate
  const key = readFileSync(join(dir, "server.key"));
  const cert = readFileSync(join(dir, "server.crt"));
  server = createServer((socket) => {
    socket.on("error", () => {});
    socket.once("data", (request) => {
      // SSLRequest: length 8, code 80877103.
      if (request.length !== 8 || request.readInt32BE(4) !== 80877103) return void socket.destroy();
      seen.sslRequests++;
      socket.write("S");
      const secure = new TLSSocket(socket, { isServer: true, key, cert });
      secure.on("error", () => {});
      secure.on("secure", () => {
        seen.handshakes++;
        secure.destroy();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  if (server) await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

async function connectError(host: string, ca: string): Promise<string> {
  const url = `postgres://users_svc@${host}:${port}/boxoffice_users_0?sslmode=verify-full&sslrootcert=${join(dir, ca)}`;
  const connection = openConnection("users-0", url, { poolSize: 1, connectTimeoutMs: 3000 });
  expect(connection.url, "the URL is kept as given").toBe(url);
  try {
    await connection.sql.query("select 1");
    return "connected";
  } catch (error) {
    const parts: string[] = [];
    for (let e: unknown = error; e instanceof Error && parts.length < 4; e = (e as { cause?: unknown }).cause) parts.push(`${(e as { code?: string }).code ?? ""} ${e.message}`);
    return parts.join(" <- ");
  } finally {
    await connection.close();
  }
}

describe.skipIf(!hasOpenssl)("a shard URL with sslmode=verify-full and sslrootcert", () => {
  it("when the server's certificate is signed by the CA in sslrootcert and names the host, the TLS handshake completes", async () => {
    const before = { ...seen };
    const error = await connectError("localhost", "server.crt");
    expect(seen.sslRequests, "TLS asked for before anything else").toBe(before.sslRequests + 1);
    expect(seen.handshakes, `handshake (client saw: ${error})`).toBe(before.handshakes + 1);
  });

  it("when the server's certificate comes from another CA, the client refuses it before sending anything", async () => {
    const before = { ...seen };
    const error = await connectError("localhost", "other.crt");
    expect(seen.sslRequests).toBe(before.sslRequests + 1);
    expect(seen.handshakes, "no completed handshake").toBe(before.handshakes);
    expect(error).toMatch(/self[- ]signed|unable to verify|certificate/i);
  });

  it("when the certificate is from the right CA but does not name the host connected to, the client refuses it (verify-full, not verify-ca)", async () => {
    const before = { ...seen };
    const error = await connectError("127.0.0.1", "server.crt");
    expect(seen.handshakes, "no completed handshake").toBe(before.handshakes);
    expect(error).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID|altnames|does not match/i);
  });

  it("when `shards add` checks for the database (ensureDatabase, which swaps the path for /postgres), the TLS parameters stay on the URL", async () => {
    const before = { ...seen };
    const url = `postgres://users_svc@localhost:${port}/boxoffice_users_2?sslmode=verify-full&sslrootcert=${join(dir, "server.crt")}`;
    await expect(ensureDatabase(url)).rejects.toThrow();
    expect(seen.sslRequests, "TLS asked for").toBe(before.sslRequests + 1);
    expect(seen.handshakes, "verified against the CA in sslrootcert").toBe(before.handshakes + 1);
  });
});
