// `npm run bench -w @boxoffice/bus`: runs every bench/*.bench.ts of this package in turn, each in
// its own process (so one bench's connections and timers cannot skew the next), each writing its
// own section of BENCHMARKS.md. Extra arguments pick benches by name: `-- channel-layer`.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const dir = import.meta.dirname;
const only = process.argv.slice(2);
const benches = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
let failures = 0;
for (const file of benches) {
  console.log(`\n== ${file} ==`);
  const result = spawnSync(process.execPath, [join(dir, file)], { stdio: "inherit" });
  if (result.status !== 0) {
    failures += 1;
    console.error(`${file} failed (exit ${result.status ?? result.signal})`);
  }
}
process.exitCode = failures ? 1 : 0;
