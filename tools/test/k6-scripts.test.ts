import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");

// k6 cannot be installed on CI machines, so its scenarios are at least type-checked against k6's API.
describe("k6 scenarios", () => {
  it("when the k6 scripts are type-checked against @types/k6, they compile", () => {
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    const result = spawnSync(process.execPath, [tsc, "-p", join(root, "load-tests", "k6", "tsconfig.json")], { encoding: "utf8" });
    expect(result.stdout + result.stderr).toBe("");
    expect(result.status).toBe(0);
  });
});
