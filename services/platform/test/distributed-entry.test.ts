// `npm run start:distributed` as a user runs it: it prints where to browse, serves through its load
// balancer, and on Ctrl-C (SIGINT) drains every process and exits 0. A one-instance topology keeps
// this file quick; distributed.test.ts covers the full one.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requirePostgres, requireRedis, uniqueName, waitFor } from "@boxoffice/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { dropDatabases } from "../src/distributed/databases.ts";

const redis = await requireRedis();
const postgres = await requirePostgres();
const ENTRY = join(import.meta.dirname, "..", "src", "distributed.ts");

describe.skipIf(!redis.available || !postgres.available)("npm run start:distributed", () => {
  const databasePrefix = uniqueName("bo_entry");
  afterAll(async () => {
    await dropDatabases(postgres.url, ["users", "events", "inventory", "payments"].map((service) => `${databasePrefix}_${service}_0`));
  });

  it("when started, it prints where to browse and serves there; on SIGINT it drains every process and exits 0", async () => {
    const child = spawn(process.execPath, [ENTRY, "--instances", "1", "--gateways", "1", "--shards", "1", "--prefix", uniqueName("entry"), "--db-prefix", databasePrefix], {
      cwd: mkdtempSync(join(tmpdir(), "boxoffice-entry-")),
      env: { ...process.env, REDIS_URL: redis.url, POSTGRES_URL: postgres.url, PORT: "0", SEED_DEMO: "false", SERVE_WEB: "false", LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const url = await waitFor(() => /browse\s+(http:\/\/\S+)/.exec(output)?.[1] ?? (child.exitCode !== null ? Promise.reject(new Error(output)) : undefined), {
        timeoutMs: 80_000,
        intervalMs: 200,
        what: "the address to browse",
      });
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status, output).toBe(200);
      child.kill("SIGINT");
      expect(await exited, output).toBe(0);
      expect(output).toContain("stopped: every process drained and exited");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }, 100_000);
});
