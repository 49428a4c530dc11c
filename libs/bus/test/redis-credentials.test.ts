// A bus that only its own services can use: Redis asks for a password (and an ACL user per
// service), or speaks TLS with a private CA. This file runs its own redis-servers on free loopback
// ports — one with requirepass and an ACL user, one with TLS and a self-signed CA made here with
// openssl — and stops them by their PID afterwards.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REQUIRE_SERVICES, uniqueName, waitFor } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BusUnavailableError, createChannelLayer, createFirehose, type ChannelLayer, type Firehose } from "../src/index.ts";

const hasRedisServer = spawnSync("redis-server", ["--version"]).status === 0;
const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;
if (!hasRedisServer || !hasOpenssl) {
  if (REQUIRE_SERVICES) throw new Error("REQUIRE_SERVICES=1 but redis-server or openssl is not installed (needed for a private Redis with a password and TLS)");
  console.warn("[skip] redis-server or openssl is not installed: the Redis credentials and TLS tests are skipped");
}

const PASSWORD = "default-user-secret-9f3a";
const INVENTORY_PASSWORD = "inventory-acl-secret-71c2";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const servers: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), "boxoffice-redis-tls-"));

/** Starts a private redis-server and resolves once its log says it accepts connections. */
async function startRedis(args: string[]): Promise<void> {
  const child = spawn("redis-server", ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  servers.push(child);
  let log = "";
  child.stdout!.on("data", (chunk: Buffer) => (log += chunk.toString()));
  await waitFor(() => log.includes("Ready to accept connections") || child.exitCode !== null, { what: "the private redis-server to start" });
  if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}): ${log}`);
}

async function roundTrip(layer: ChannelLayer): Promise<unknown> {
  const channel = uniqueName("creds");
  await layer.send(channel, { hello: "world" });
  return (await layer.receive(channel, { timeoutMs: 5000 })).hello;
}

async function publishAndRead(firehose: Firehose): Promise<string> {
  const stream = uniqueName("creds-stream");
  const seen: string[] = [];
  const subscription = firehose.subscribe(stream, { from: "earliest" }, (event) => {
    seen.push(event.key);
  });
  await subscription.ready;
  await firehose.publish(stream, { type: "thing.happened.v1", version: 1, key: "k1", data: {} });
  const key = await waitFor(() => seen[0], { what: "the event to arrive" });
  await subscription.close();
  return key;
}

let passwordPort = 0;
let tlsPort = 0;
let ca: Buffer;

beforeAll(async () => {
  if (!hasRedisServer || !hasOpenssl) return;
  passwordPort = await freePort();
  await startRedis([
    "--port", String(passwordPort),
    "--requirepass", PASSWORD,
    // One ACL user per service: its own password, no admin commands (CONFIG, MONITOR, FLUSHALL, KEYS...).
    "--user", "inventory", "on", `>${INVENTORY_PASSWORD}`, "~*", "&*", "+@all", "-@dangerous",
  ]);
  const made = spawnSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "1",
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
  ]);
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr.toString()}`);
  ca = readFileSync(join(dir, "cert.pem"));
  tlsPort = await freePort();
  await startRedis([
    "--port", "0", "--tls-port", String(tlsPort),
    "--tls-cert-file", join(dir, "cert.pem"), "--tls-key-file", join(dir, "key.pem"), "--tls-ca-cert-file", join(dir, "cert.pem"),
    "--tls-auth-clients", "no", "--requirepass", PASSWORD,
  ]);
});

afterAll(async () => {
  await Promise.all(servers.map(async (child) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }));
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!hasRedisServer || !hasOpenssl)("a bus on a Redis that wants credentials", () => {
  it("when the URL carries the service's ACL user and password, channels and the firehose work", async () => {
    const url = `redis://inventory:${INVENTORY_PASSWORD}@127.0.0.1:${passwordPort}/0`;
    const layer = createChannelLayer(url, { prefix: uniqueName("acl") });
    const firehose = createFirehose(url, { prefix: uniqueName("acl") });
    try {
      expect(await roundTrip(layer)).toBe("world");
      expect(await publishAndRead(firehose)).toBe("k1");
    } finally {
      await firehose.close();
      await layer.close();
    }
  });

  it("when the URL carries only the default user's password (requirepass), the bus works", async () => {
    const layer = createChannelLayer(`redis://:${PASSWORD}@127.0.0.1:${passwordPort}`, { prefix: uniqueName("pass") });
    try {
      expect(await roundTrip(layer)).toBe("world");
    } finally {
      await layer.close();
    }
  });

  it("when the password is wrong, send and publish fail as unavailable, and no message names the password", async () => {
    const wrong = "not-the-password-5d1e";
    const url = `redis://inventory:${wrong}@127.0.0.1:${passwordPort}`;
    const layer = createChannelLayer(url, { prefix: uniqueName("wrong") });
    const firehose = createFirehose(url, { prefix: uniqueName("wrong") });
    try {
      const sent = await layer.send("anything", { a: 1 }).then(() => undefined, (error: unknown) => error);
      expect(sent).toBeInstanceOf(BusUnavailableError);
      expect((sent as Error).message).not.toContain(wrong);
      const published = await firehose.publish("s", { type: "thing.happened.v1", version: 1, key: "k", data: {} }).then(() => undefined, (error: unknown) => error);
      expect(published).toBeInstanceOf(BusUnavailableError);
      expect((published as Error).message).not.toContain(wrong);
      expect((published as Error).message).toContain(`127.0.0.1:${passwordPort}`);
    } finally {
      await firehose.close();
      await layer.close();
    }
  });

  it("when a bad URL is rejected, the error does not repeat its password", () => {
    const secret = "do-not-print-me-8c1f";
    expect(() => createChannelLayer(`http://user:${secret}@127.0.0.1`)).toThrow(/expected/);
    expect(() => createChannelLayer(`http://user:${secret}@127.0.0.1`)).not.toThrow(new RegExp(secret));
    expect(() => createFirehose(`http://user:${secret}@127.0.0.1`)).not.toThrow(new RegExp(secret));
  });
});

describe.skipIf(!hasRedisServer || !hasOpenssl)("a bus over TLS (rediss://) with a private CA", () => {
  it("when the CA is given, channels and the firehose work over TLS", async () => {
    const url = `rediss://:${PASSWORD}@127.0.0.1:${tlsPort}`;
    const layer = createChannelLayer(url, { prefix: uniqueName("tls"), tls: { ca } });
    const firehose = createFirehose(url, { prefix: uniqueName("tls"), tls: { ca } });
    try {
      expect(await roundTrip(layer)).toBe("world");
      expect(await publishAndRead(firehose)).toBe("k1");
    } finally {
      await firehose.close();
      await layer.close();
    }
  });

  it("when the server's certificate is not signed by a trusted CA, nothing is sent", async () => {
    const layer = createChannelLayer(`rediss://:${PASSWORD}@127.0.0.1:${tlsPort}`, { prefix: uniqueName("untrusted") });
    try {
      await expect(layer.send("anything", { a: 1 })).rejects.toBeInstanceOf(BusUnavailableError);
    } finally {
      await layer.close();
    }
  });

  it("when tls is not an object, the layer refuses to start and names the option", () => {
    expect(() => createChannelLayer(`rediss://127.0.0.1:${tlsPort}`, { tls: "yes" as never })).toThrow(/tls/);
  });
});
