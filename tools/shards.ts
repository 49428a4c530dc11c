// `npm run shards -- move <logical-shard> --to <physical> [--map file]` moves one logical shard
// while services run; `npm run shards -- show [--map file]` prints the map in force (the newest
// published version). The map comes from --map, else SHARD_MAP / SHARD_MAP_FILE.
import { parseArgs } from "node:util";
import { createShardRouter, isShardingError, loadShardMap, moveLogicalShard, shardMapToJson } from "@boxoffice/sharding";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { to: { type: "string" }, map: { type: "string" }, help: { type: "boolean", short: "h" } },
});
const usage = "usage: npm run shards -- move <logical-shard 0-4095> --to <physical-shard-name> [--map map.json]\n       npm run shards -- show [--map map.json]";

try {
  const [command, arg] = positionals;
  if (values.help || !command) {
    console.log(usage);
    process.exit(values.help ? 0 : 1);
  }
  const map = loadShardMap(values.map ? { file: values.map } : {});
  if (command === "move") {
    const logicalShard = Number(arg);
    if (arg === undefined || !Number.isInteger(logicalShard) || !values.to) {
      console.error(usage);
      process.exit(1);
    }
    const result = await moveLogicalShard({ map, logicalShard, to: values.to, log: (line) => console.log(line) });
    console.log(`moved logical shard ${logicalShard} from ${result.from} to ${result.to}; map version ${result.map.version}`);
  } else if (command === "show") {
    const router = createShardRouter({ map, createClient: () => null, mapRefreshMs: 0 });
    try {
      await router.refreshMap();
      console.log(JSON.stringify(shardMapToJson(router.map), null, 2));
    } finally {
      await router.close();
    }
  } else {
    console.error(usage);
    process.exit(1);
  }
} catch (error) {
  console.error(isShardingError(error) ? `${error.code}: ${error.message}` : error);
  process.exit(1);
}
