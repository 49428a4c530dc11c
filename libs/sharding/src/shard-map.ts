// The shard map says which physical database owns which logical shards. It is validated when
// loaded, so a map with a gap or an overlap never reaches the router.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { ShardMapInvalidError } from "./errors.ts";
import { LOGICAL_SHARD_COUNT } from "./logical-shard.ts";

const shardUrl = z
  .string()
  .refine((url) => /^postgres(ql)?:\/\/.+/.test(url) || /^pglite:\/\/.+/.test(url), {
    message: "must be postgres://… , pglite://memory or pglite://<dir>",
  });

const logicalRange = z
  .tuple([z.number().int().min(0).max(LOGICAL_SHARD_COUNT - 1), z.number().int().min(0).max(LOGICAL_SHARD_COUNT - 1)])
  .refine(([from, to]) => from <= to, { message: "range must be [from, to] with from <= to" });

export const physicalShardSchema = z.object({
  /** Stable name of the physical shard; used in logs, errors and `shards move --to <name>`. */
  name: z.string().min(1).regex(/^[A-Za-z0-9_.-]+$/, "letters, digits, _ . - only"),
  /** Where writes go: postgres://user@host:port/db, pglite://memory or pglite://<data dir>. */
  primary: shardUrl,
  /** Streaming replicas for reads (postgres:// only); optional. */
  replicas: z.array(shardUrl).default([]),
  /** Inclusive ranges [from, to] of logical shards this physical shard owns (empty: a new shard awaiting moves). */
  logicalShards: z.array(logicalRange),
});

export const shardMapSchema = z.object({
  /** Increases on every change (e.g. a shard move); processes keep the highest version they see. */
  version: z.number().int().min(1).default(1),
  shards: z.array(physicalShardSchema).min(1),
});

export type PhysicalShard = z.infer<typeof physicalShardSchema>;
export type ShardMapInput = z.input<typeof shardMapSchema>;

export interface ShardMap {
  readonly version: number;
  readonly shards: readonly PhysicalShard[];
  /** owner[logical] = index into `shards`. */
  readonly owner: Uint16Array;
}

function describeRanges(list: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < list.length; i++) {
    const from = list[i];
    let to = from;
    while (i + 1 < list.length && list[i + 1] === to + 1) to = list[++i];
    parts.push(from === to ? `${from}` : `${from}-${to}`);
    if (parts.length >= 8) {
      parts.push("…");
      break;
    }
  }
  return parts.join(", ");
}

/** Validates a map object (already parsed JSON); throws ShardMapInvalidError naming the problem. */
export function parseShardMap(input: unknown): ShardMap {
  const value = typeof input === "string" ? parseJson(input, "shard map") : input;
  const result = shardMapSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue.path.join(".") || "(root)";
    throw new ShardMapInvalidError(`shard map is invalid at ${path}: ${issue.message}`, { path, issues: result.error.issues });
  }
  const { version, shards } = result.data;
  const names = new Set<string>();
  for (const shard of shards) {
    if (names.has(shard.name)) throw new ShardMapInvalidError(`shard map names physical shard "${shard.name}" twice`, { shard: shard.name });
    names.add(shard.name);
  }
  const owner = new Uint16Array(LOGICAL_SHARD_COUNT).fill(0xffff);
  const overlaps: number[] = [];
  let overlapShards: [string, string] | undefined;
  shards.forEach((shard, index) => {
    for (const [from, to] of shard.logicalShards) {
      for (let l = from; l <= to; l++) {
        if (owner[l] !== 0xffff) {
          overlaps.push(l);
          overlapShards ??= [shards[owner[l]].name, shard.name];
        } else owner[l] = index;
      }
    }
  });
  if (overlaps.length > 0) {
    throw new ShardMapInvalidError(
      `shard map overlap: logical shards ${describeRanges(overlaps)} are owned by both "${overlapShards![0]}" and "${overlapShards![1]}"`,
      { overlap: overlaps },
    );
  }
  const gaps: number[] = [];
  for (let l = 0; l < LOGICAL_SHARD_COUNT; l++) if (owner[l] === 0xffff) gaps.push(l);
  if (gaps.length > 0) {
    throw new ShardMapInvalidError(`shard map gap: logical shards ${describeRanges(gaps)} are owned by no physical shard`, { gap: gaps });
  }
  return { version, shards, owner };
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ShardMapInvalidError(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * Loads the map from a JSON string (an env var's value) or a JSON file; `env` wins when both are
 * given. With neither, reads process.env.SHARD_MAP, then process.env.SHARD_MAP_FILE.
 */
export function loadShardMap(options: { env?: string; file?: string } = {}): ShardMap {
  const env = options.env ?? (options.file === undefined ? process.env.SHARD_MAP : undefined);
  if (env !== undefined && env.trim() !== "") return parseShardMap(parseJson(env, "SHARD_MAP"));
  const file = options.file ?? process.env.SHARD_MAP_FILE;
  if (file === undefined || file === "") throw new ShardMapInvalidError("no shard map: set SHARD_MAP (JSON) or SHARD_MAP_FILE");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ShardMapInvalidError(`cannot read shard map file ${file}: ${(error as Error).message}`, { file });
  }
  return parseShardMap(parseJson(text, `shard map file ${file}`));
}

/** One physical shard owning all 4096 logical shards (development, tests, the embedded host). */
export function singleShardMap(url: string, options: { replicas?: string[]; name?: string } = {}): ShardMap {
  return parseShardMap({
    version: 1,
    shards: [{ name: options.name ?? "shard0", primary: url, replicas: options.replicas ?? [], logicalShards: [[0, LOGICAL_SHARD_COUNT - 1]] }],
  });
}

/** Splits the logical shards into equal contiguous ranges, one per URL, named shard0, shard1, … */
export function evenShardMap(urls: readonly string[]): ShardMap {
  if (urls.length === 0) throw new ShardMapInvalidError("evenShardMap needs at least one URL");
  const per = Math.ceil(LOGICAL_SHARD_COUNT / urls.length);
  return parseShardMap({
    version: 1,
    shards: urls.map((url, i) => ({
      name: `shard${i}`,
      primary: url,
      logicalShards: [[i * per, Math.min(LOGICAL_SHARD_COUNT, (i + 1) * per) - 1]],
    })),
  });
}

/** The JSON form of a map (what SHARD_MAP holds and what the `shard_map` record stores). */
export function shardMapToJson(map: ShardMap): ShardMapInput {
  return { version: map.version, shards: map.shards.map((s) => ({ ...s, logicalShards: s.logicalShards.map(([a, b]) => [a, b] as [number, number]) })) };
}

export function physicalShardOf(map: ShardMap, logical: number): PhysicalShard {
  return map.shards[map.owner[logical]];
}

/** A copy of `map` where `logical` is owned by `target`, with version + 1. */
export function reassignLogicalShard(map: ShardMap, logical: number, target: string): ShardMap {
  return reassignLogicalShards(map, [logical], target);
}

/** A copy of `map` where every one of `logicals` is owned by `target`, with version + 1. */
export function reassignLogicalShards(map: ShardMap, logicals: readonly number[], target: string): ShardMap {
  if (!map.shards.some((s) => s.name === target)) throw new ShardMapInvalidError(`no physical shard named "${target}" in the map`, { shard: target });
  const moving = new Set(logicals);
  const shards = map.shards.map((shard) => {
    const owned: number[] = [];
    for (const [from, to] of shard.logicalShards) for (let l = from; l <= to; l++) if (!moving.has(l)) owned.push(l);
    if (shard.name === target) owned.push(...moving);
    return { ...shard, logicalShards: toRanges(owned) };
  });
  // A physical shard left with no logical shards stays in the map: it may receive some back later.
  return parseShardMap({ version: map.version + 1, shards });
}

/** A copy of `map` with a new physical shard that owns nothing yet (version + 1). */
export function addPhysicalShard(map: ShardMap, shard: { name: string; primary: string; replicas?: string[] }): ShardMap {
  if (map.shards.some((s) => s.name === shard.name)) throw new ShardMapInvalidError(`the shard map already has a physical shard named "${shard.name}"`, { shard: shard.name });
  if (map.shards.some((s) => s.primary === shard.primary)) throw new ShardMapInvalidError(`the shard map already uses ${shard.primary}`, { shard: shard.name });
  const json = shardMapToJson(map);
  return parseShardMap({ ...json, version: map.version + 1, shards: [...json.shards, { name: shard.name, primary: shard.primary, replicas: shard.replicas ?? [], logicalShards: [] }] });
}

/** Sorted, merged inclusive ranges of a list of logical shards. */
export function toRanges(logicals: readonly number[]): [number, number][] {
  const sorted = [...new Set(logicals)].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const l of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && last[1] + 1 === l) last[1] = l;
    else ranges.push([l, l]);
  }
  return ranges;
}

/** The logical shards each physical shard owns, by name. */
export function ownedLogicalShards(map: ShardMap): Map<string, number[]> {
  const owned = new Map<string, number[]>(map.shards.map((s) => [s.name, []]));
  for (let l = 0; l < LOGICAL_SHARD_COUNT; l++) owned.get(map.shards[map.owner[l]].name)!.push(l);
  return owned;
}

export interface RebalanceStep {
  readonly from: string;
  readonly to: string;
  /** Contiguous logical shards moved as one batch. */
  readonly logicalShards: number[];
}

/**
 * The moves that leave every physical shard owning an even share (±1) of the 4096 logical shards,
 * in batches of at most `batchSize` contiguous logical shards; each over-full shard gives away
 * from the end of its ranges, so owners keep contiguous ranges. Empty when already even.
 */
export function planRebalance(map: ShardMap, batchSize = 64): RebalanceStep[] {
  const names = map.shards.map((s) => s.name);
  const owned = ownedLogicalShards(map);
  const base = Math.floor(LOGICAL_SHARD_COUNT / names.length);
  const extra = LOGICAL_SHARD_COUNT % names.length;
  // The shards that own the most today keep the +1 shares, so fewer logical shards move.
  const byOwned = [...names].sort((a, b) => owned.get(b)!.length - owned.get(a)!.length || names.indexOf(a) - names.indexOf(b));
  const want = new Map(byOwned.map((name, i) => [name, base + (i < extra ? 1 : 0)]));
  const surplus: Array<{ name: string; give: number[] }> = [];
  const deficit: Array<{ name: string; need: number }> = [];
  for (const name of names) {
    const have = owned.get(name)!;
    const diff = have.length - want.get(name)!;
    if (diff > 0) surplus.push({ name, give: have.slice(have.length - diff) });
    else if (diff < 0) deficit.push({ name, need: -diff });
  }
  const steps: RebalanceStep[] = [];
  for (const d of deficit) {
    while (d.need > 0) {
      const s = surplus.find((x) => x.give.length > 0);
      if (!s) break;
      const take = Math.min(d.need, batchSize, s.give.length);
      const batch = s.give.splice(s.give.length - take, take);
      steps.push({ from: s.name, to: d.name, logicalShards: batch });
      d.need -= take;
    }
  }
  return steps;
}
