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
});
