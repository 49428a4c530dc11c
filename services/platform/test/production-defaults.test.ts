// Production refuses public defaults: each service's process, started the way the images start it
// (NODE_ENV=production) on a Redis bus but with this repository's public development values, exits
// before connecting to anything, with a message naming every variable to set.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const SERVICES_DIR = join(import.meta.dirname, "..", "..");

function runMain(service: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(SERVICES_DIR, service, "src", "main.ts")], {
      // Port 1 on loopback: nothing listens, so nothing outside this test is touched if the check were missing.
      env: { PATH: process.env.PATH ?? "", NODE_ENV: "production", BUS_URL: "redis://127.0.0.1:1/0", FIREHOSE_URL: "redis://127.0.0.1:1/0", LOG_LEVEL: "silent", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const SIGNING_KEYS = '[{"crv":"Ed25519","d":"zeDVxAGnOZ38QPSaCcBHAY9qkJIhMIIC6flDDCPU0WU","x":"tsKW9wpdeHonpOfhqsLYvHBPYZkPimP40poEMYFkNnI","kty":"OKP","kid":"t-1","alg":"EdDSA"}]';

describe("production refuses public defaults", () => {
  it.each([
    ["inventory", {}, ["INVENTORY_HASH_SECRET", "BUS_ENCRYPTION_KEYS", "SERVICE_IDENTITY_SECRET", "SERVICE_IDENTITIES"]],
    ["payments", {}, ["PAYMENTS_HASH_SECRET", "BUS_ENCRYPTION_KEYS", "SERVICE_IDENTITY_SECRET", "SERVICE_IDENTITIES"]],
    ["users", { USERS_SIGNING_KEYS: SIGNING_KEYS, SEED_DEMO: "true" }, ["DEMO_ORGANIZER_PASSWORD", "DEMO_OPERATOR_PASSWORD", "BUS_ENCRYPTION_KEYS"]],
    ["users", {}, ["USERS_SIGNING_KEYS"]],
    ["events", {}, ["BUS_ENCRYPTION_KEYS", "SERVICE_IDENTITIES"]],
    ["gateway", { SESSION_KEYS: "a".repeat(64) }, ["BUS_ENCRYPTION_KEYS", "SERVICE_IDENTITY_SECRET"]],
  ] as Array<[string, Record<string, string>, string[]]>)("when %s starts with NODE_ENV=production and public values, it exits naming what to set", async (service, env, variables) => {
    const { code, output } = await runMain(service, env);
    expect(code, output).not.toBe(0);
    for (const variable of variables) expect(output, `${service} names ${variable}`).toContain(variable);
  }, 40_000);
});
