// `npm run shards` answers a mistake with a clear message and exit 1, and never touches an embedded
// database from outside its process.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..", "..");
const EMBEDDED_MAP = JSON.stringify({ version: 1, shards: [{ name: "shard0", primary: "pglite://memory", logicalShards: [[0, 4095]] }] });

async function shards(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(ROOT, "tools/shards.ts"), ...args], { cwd: ROOT, env: { ...process.env, SHARD_MAP_FILE: "", ...env } });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

describe("npm run shards", () => {
  it("when the logical shard is not a number or range, it says so and exits 1", async () => {
    const result = await shards(["move", "12x", "--to", "shard1", "--service", "inventory"], { SHARD_MAP: EMBEDDED_MAP });
    expect(result.code).toBe(1);
    expect(result.out).toContain('"12x" is not a logical shard or range');
  });

  it("when the service cannot be told, it asks for --service instead of guessing", async () => {
    const result = await shards(["move", "12", "--to", "shard1"], { SHARD_MAP: EMBEDDED_MAP });
    expect(result.code).toBe(1);
    expect(result.out).toContain("say whose shards these are: --service users|events|inventory|payments");
  });

  it("when a shard is an embedded PGlite database, it refuses to move it from outside its process", async () => {
    const result = await shards(["move", "12", "--to", "shard1", "--service", "inventory"], { SHARD_MAP: EMBEDDED_MAP });
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/embedded PGlite database .* cannot move its data/);
  });

  it("when no map is given, it names the variables that give one", async () => {
    const result = await shards(["show"], { SHARD_MAP: "" });
    expect(result.code).toBe(1);
    expect(result.out).toContain("no shard map: set SHARD_MAP (JSON) or SHARD_MAP_FILE");
  });
});
