// `npm run shards -- <command>`: operate a service's sharded store while the services run.
//   show                               the map in force (the newest published version)
//   move <logical> --to <physical>     move logical shard(s) (e.g. 77, 64-127, 3,9) to another physical shard
//   add <name> <postgres-url>          create and migrate a new physical shard; it joins owning nothing
//   rebalance                          move logical shards until every physical shard owns an even range
//   recover                            finish or undo a move/rebalance that was killed
// The map comes from --map, else SHARD_MAP / SHARD_MAP_FILE; the service (whose schemas and
// migrations are used) from --service, else the map file's name (inventory.json → inventory).
// When the map came from a file, the file is rewritten with the newest map after a change.
import { writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import {
  addShard,
  isShardingError,
  loadShardMap,
  moveLogicalShards,
  newestPublishedMap,
  rebalance,
  recoverInterruptedMoves,
  serviceDatabaseSchemas,
  shardMapToJson,
  type ShardMap,
} from "@boxoffice/sharding";

const ROOT = join(import.meta.dirname, "..");
const SERVICES = ["users", "events", "inventory", "payments"];
const usage = `usage: npm run shards -- <command> [--service <name>] [--map map.json]
  show
  move <logical-shards: 77 | 64-127 | 3,9> --to <physical-shard> [--grace-ms ms]
  add <physical-shard-name> <postgres://…/database>
  rebalance [--batch 64] [--max-rows-per-second 20000] [--pause-ms 200] [--max-steps n]
  recover
--service: ${SERVICES.join(", ")} (default: the map file's name). The map: --map, SHARD_MAP or SHARD_MAP_FILE.`;

class UsageError extends Error {}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    to: { type: "string" },
    map: { type: "string" },
    service: { type: "string" },
    "grace-ms": { type: "string" },
    batch: { type: "string" },
    "max-rows-per-second": { type: "string" },
    "pause-ms": { type: "string" },
    "max-steps": { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});

function numberOption(name: keyof typeof values, min: number): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${String(raw)}`);
  return n;
}

/** "77", "64-127", "3,9,12-14" → sorted logical shards. */
function parseLogicalShards(text: string | undefined): number[] {
  if (!text) throw new UsageError("name the logical shard(s) to move");
  const out: number[] = [];
  for (const part of text.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new UsageError(`"${part}" is not a logical shard or range (e.g. 77 or 64-127)`);
    const from = Number(m[1]);
    const to = Number(m[2] ?? m[1]);
    if (from > to || to > 4095) throw new UsageError(`"${part}" is not within 0–4095 (from ≤ to)`);
    for (let l = from; l <= to; l++) out.push(l);
  }
  return out;
}

function mapFile(): string | undefined {
  return values.map ?? (process.env.SHARD_MAP ? undefined : process.env.SHARD_MAP_FILE);
}

function serviceName(): string {
  const file = mapFile();
  const service = values.service ?? (file ? basename(file).replace(/\.json$/, "") : undefined);
  if (!service || !SERVICES.includes(service)) {
    throw new UsageError(`say whose shards these are: --service ${SERVICES.join("|")}${service ? ` (got "${service}")` : ""}`);
  }
  return service;
}

function refuseEmbedded(map: ShardMap): void {
  const embedded = map.shards.find((s) => s.primary.startsWith("pglite://"));
  if (embedded) {
    throw new UsageError(
      `shard "${embedded.name}" is an embedded PGlite database (${embedded.primary}); it lives inside the process that runs it, so this tool cannot move its data. Run the platform distributed (npm run start:distributed) to move shards.`,
    );
  }
}

function saveMap(map: ShardMap): void {
  const file = mapFile();
  if (!file) return;
  writeFileSync(file, `${JSON.stringify(shardMapToJson(map), null, 2)}\n`);
  console.log(`wrote map version ${map.version} to ${file}`);
}

function describeMap(map: ShardMap): string {
  return map.shards.map((s) => `  ${s.name.padEnd(16)} ${String(s.logicalShards.reduce((n, [a, b]) => n + b - a + 1, 0)).padStart(5)} logical shards  ${JSON.stringify(s.logicalShards)}`).join("\n");
}

async function main(): Promise<void> {
  const [command, ...args] = positionals;
  if (values.help || !command) {
    console.log(usage);
    if (!values.help) process.exitCode = 1;
    return;
  }
  const map = loadShardMap(values.map ? { file: values.map } : {});
  const log = (line: string) => console.log(line);
  switch (command) {
    case "show": {
      const newest = await newestPublishedMap(map);
      console.log(JSON.stringify(shardMapToJson(newest), null, 2));
      return;
    }
    case "move": {
      if (!values.to) throw new UsageError("move needs --to <physical-shard>");
      const logicalShards = parseLogicalShards(args[0]);
      const schemas = serviceDatabaseSchemas(ROOT, serviceName());
      refuseEmbedded(map);
      const result = await moveLogicalShards({ map, logicalShards, to: values.to, schemas, graceMs: numberOption("grace-ms", 0), log });
      saveMap(result.map);
      const rows = Object.values(result.rows).reduce((a, b) => a + b, 0);
      console.log(`moved ${logicalShards.length === 1 ? `logical shard ${logicalShards[0]}` : `${logicalShards.length} logical shards`} from ${result.from} to ${result.to}; map version ${result.map.version}; ${rows} rows; writes fenced ${result.fencedMs.toFixed(0)} ms`);
      return;
    }
    case "add": {
      const [name, url] = args;
      if (!name || !url) throw new UsageError("add needs <physical-shard-name> <postgres-url>");
      const service = serviceName();
      const next = await addShard({ map, name, url, service, migrationsDir: join(ROOT, "services", service, "prisma", "migrations"), log });
      saveMap(next);
      console.log(describeMap(next));
      return;
    }
    case "rebalance": {
      const schemas = serviceDatabaseSchemas(ROOT, serviceName());
      refuseEmbedded(map);
      const bar = new cliProgress.SingleBar(
        { format: "rebalance [{bar}] {value}/{total} logical shards | batch {step}/{steps} | {rows} rows | {last}", hideCursor: true, noTTYOutput: true, notTTYSchedule: 2000 },
        cliProgress.Presets.shades_classic,
      );
      let started = false;
      const result = await rebalance({
        map,
        schemas,
        batchSize: numberOption("batch", 1),
        maxRowsPerSecond: numberOption("max-rows-per-second", 1),
        pauseMs: numberOption("pause-ms", 0),
        maxSteps: numberOption("max-steps", 1),
        graceMs: numberOption("grace-ms", 0),
        // The bar owns the terminal while it runs; move lines would tear it.
        log: (line) => {
          if (!started) console.log(line);
        },
        onProgress: (p) => {
          const payload = { step: p.step, steps: p.steps, rows: p.rowsMoved, last: p.last ? `${p.last.from} → ${p.last.to}` : "" };
          if (!started) {
            started = true;
            bar.start(p.logicalShardsTotal, p.logicalShardsMoved, payload);
          } else bar.update(p.logicalShardsMoved, payload);
        },
      });
      if (started) bar.stop();
      saveMap(result.map);
      console.log(
        result.steps === 0
          ? "already balanced"
          : `rebalanced: ${result.logicalShardsMoved} logical shards, ${result.rowsMoved} rows in ${result.steps} batches; map version ${result.map.version}${result.remaining ? `; ${result.remaining} batches left (run again)` : ""}`,
      );
      console.log(describeMap(result.map));
      return;
    }
    case "recover": {
      const schemas = serviceDatabaseSchemas(ROOT, serviceName());
      refuseEmbedded(map);
      const result = await recoverInterruptedMoves({ map, schemas, log, graceMs: numberOption("grace-ms", 0) });
      console.log(
        `recover: ${result.undone.length} logical shards undone, ${result.finished.length} finished, ${Object.values(result.cleanup.deleted).reduce((a, b) => a + b, 0)} old rows deleted, ${result.cleanup.waiting} old copies still in their grace period`,
      );
      return;
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

try {
  await main();
} catch (error) {
  if (error instanceof UsageError) console.error(`${error.message}\n\n${usage}`);
  else console.error(isShardingError(error) ? `${error.code}: ${error.message}` : error);
  process.exitCode = 1;
}
