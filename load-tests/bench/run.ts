// `npm run bench -w @boxoffice/load-tests [-- <name> [--flags]]`: runs the benches of this package
// (waiting-room, checkout-cost), each in its own process and writing its own section of
// BENCHMARKS.md. A name picks one; the flags after it go to that bench (`checkout-cost --mode distributed`).
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const BENCHES = ["waiting-room", "checkout-cost"];
const args = process.argv.slice(2);
const named = args.filter((a) => BENCHES.includes(a));
const flags = args.filter((a) => !BENCHES.includes(a));
let failures = 0;
for (const bench of named.length > 0 ? named : BENCHES) {
  console.log(`\n== ${bench} ==`);
  const result = spawnSync(process.execPath, [join(import.meta.dirname, `${bench}.ts`), ...flags], { stdio: "inherit" });
  if (result.status !== 0) {
    failures += 1;
    console.error(`${bench} failed (exit ${result.status ?? result.signal})`);
  }
}
process.exitCode = failures ? 1 : 0;
