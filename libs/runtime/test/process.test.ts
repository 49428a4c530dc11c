import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

describe("service process lifecycle", () => {
  it("when a truly unexpected error escapes, the process logs it once, drains and exits non-zero (the supervisor restarts it)", async () => {
    const child = spawn(process.execPath, [join(import.meta.dirname, "support", "crashing-service.ts")], {
      env: { ...process.env, LOG_LEVEL: "info", BUS_URL: "memory://", FIREHOSE_URL: "memory://" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    expect(code, `exit code; output:\n${out}`).toBe(1);
    const lines = out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message: string } });
    const fatal = lines.filter((l) => l.level === 60);
    expect(fatal.map((l) => [l.msg, l.err?.message])).toEqual([["unhandled rejection: exiting", "a bug nobody handles"]]);
    expect(lines.some((l) => l.msg === "drained")).toBe(true);
  });

  it("when start fails after leaving something that keeps the event loop alive, the process still exits non-zero instead of hanging unready", async () => {
    const child = spawn(process.execPath, [join(import.meta.dirname, "support", "failing-start-service.ts")], {
      env: { ...process.env, LOG_LEVEL: "info", BUS_URL: "memory://", FIREHOSE_URL: "memory://" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    // Without the fix the child lives forever: the test's own timeout would be the failure; end it here instead.
    const hung = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const code = await exited;
    clearTimeout(hung);
    expect(code, `exit code (null: it hung and was killed); output:\n${out}`).toBe(1);
    expect(out).toContain("failed to start");
  }, 40_000);
});
