// `npm run migrate [-- --service <dir>] [--migrations <dir>] [--map <file>]`: applies pending
// Prisma-format migrations to every physical shard of the map (SHARD_MAP / SHARD_MAP_FILE env
// when --map is not given). Without --service or --migrations: every services/*/prisma/migrations.
import { existsSync, readdirSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { isShardingError, loadShardMap, migrate } from "@boxoffice/sharding";

const root = join(import.meta.dirname, "..");
const { values } = parseArgs({
  options: {
    service: { type: "string", multiple: true },
    migrations: { type: "string" },
    map: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});

if (values.help) {
  console.log("usage: npm run migrate -- [--service services/users] [--migrations <dir>] [--map map.json]   (map: --map, else SHARD_MAP or SHARD_MAP_FILE)");
  process.exit(0);
}

function targets(): Array<{ service: string; dir: string }> {
  if (values.migrations) return [{ service: basename(resolve(values.migrations, "../..")), dir: resolve(values.migrations) }];
  const services = values.service ?? readdirSync(join(root, "services")).map((name) => join("services", name));
  return services
    .map((s) => resolve(root, s))
    .filter((dir) => values.service !== undefined || existsSync(join(dir, "prisma", "migrations")))
    .map((dir) => ({ service: basename(dir), dir: join(dir, "prisma", "migrations") }));
}

try {
  const map = loadShardMap(values.map ? { file: values.map } : {});
  for (const { service, dir } of targets()) {
    const result = await migrate({ map, migrationsDir: dir, service, log: (line) => console.log(line) });
    const count = Object.values(result.applied).reduce((n, list) => n + list.length, 0);
    console.log(`${service}: ${count} migration(s) applied over ${map.shards.length} shard(s); up to date`);
  }
} catch (error) {
  console.error(isShardingError(error) ? `${error.code}: ${error.message}` : error);
  process.exit(1);
}
