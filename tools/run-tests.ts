// `npm test`: lint (module boundaries included), then every project's vitest suite in one run,
// then the one line CI reads: "N passed, N failed, N skipped".
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const resultsFile = join(root, ".vitest-results.json");
const extraArgs = process.argv.slice(2);
const skipLint = process.env.SKIP_LINT === "1" || extraArgs.length > 0;

function run(cmd: string, args: string[]): number {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit", env: process.env });
  return r.status ?? 1;
}

let lintFailed = 0;
if (!skipLint) {
  console.log("\n== lint (eslint + Nx module boundaries) ==");
  lintFailed = run("npx", ["nx", "run-many", "-t", "lint", "--outputStyle=static"]) === 0 ? 0 : 1;
}

console.log("\n== tests (vitest, every project) ==");
rmSync(resultsFile, { force: true });
const vitestStatus = run("npx", [
  "vitest", "run",
  "--reporter=default", "--reporter=json", `--outputFile.json=${resultsFile}`,
  ...extraArgs,
]);

let passed = 0, failed = 0, skipped = 0;
try {
  const results = JSON.parse(readFileSync(resultsFile, "utf8")) as {
    numPassedTests: number; numFailedTests: number; numPendingTests: number; numTodoTests: number;
    numFailedTestSuites: number;
  };
  passed = results.numPassedTests;
  // A file that fails to load (e.g. a required service is down) has no tests but is a failure.
  failed = results.numFailedTests + (results.numFailedTests === 0 && results.numFailedTestSuites > 0 ? results.numFailedTestSuites : 0);
  skipped = results.numPendingTests + results.numTodoTests;
} catch {
  failed = Math.max(failed, 1);
  console.error("vitest wrote no results file: counting the run as failed");
}
if (vitestStatus !== 0 && failed === 0) {
  // Every test passed but vitest still failed the run: an unhandled error or rejection (see above).
  console.log("vitest: errors outside any test (see \"Unhandled Errors\" above)");
  failed = 1;
}
if (lintFailed) console.log("lint: failed (see above)");
failed += lintFailed;
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(vitestStatus !== 0 || failed > 0 ? 1 : 0);
