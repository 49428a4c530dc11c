// `npm run bench`: runs the `bench` script of every workspace that has one, in dependency order,
// each writing its own section of BENCHMARKS.md. Needs the real Redis and Postgres.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const order = ["libs/bus", "libs/sharding", "services/users", "services/events", "services/inventory", "services/payments", "services/gateway", "services/platform", "load-tests"];
const only = process.argv.slice(2);
let failures = 0;
for (const dir of order) {
  const pkg = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")) as { name: string; scripts?: Record<string, string> };
  if (!pkg.scripts?.bench) continue;
  if (only.length && !only.some((o) => pkg.name.includes(o))) continue;
  console.log(`\n== bench ${pkg.name} ==`);
  const r = spawnSync("npm", ["run", "bench", "-w", pkg.name], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) failures++;
}
process.exit(failures ? 1 : 0);
