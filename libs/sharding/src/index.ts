// The public API of @boxoffice/sharding (see docs/architecture.md).
export { LOGICAL_SHARD_COUNT, logicalShardOf, isLogicalShard } from "./logical-shard.ts";
export {
  shardMapSchema,
  physicalShardSchema,
  parseShardMap,
  loadShardMap,
  singleShardMap,
  evenShardMap,
  shardMapToJson,
  physicalShardOf,
  reassignLogicalShard,
  reassignLogicalShards,
  addPhysicalShard,
  ownedLogicalShards,
  planRebalance,
  toRanges,
} from "./shard-map.ts";
export type { ShardMap, ShardMapInput, PhysicalShard, RebalanceStep } from "./shard-map.ts";
export { createIdGenerator, decodeId, logicalShardOfId, ID_EPOCH_MS, MAX_NODE_ID } from "./ids.ts";
export type { IdGenerator, IdGeneratorOptions, DecodedId } from "./ids.ts";
export { createShardRouter, withRequestContext, DEFAULT_ROUTER_OPTIONS } from "./router.ts";
export type { ShardRouter, ShardRouterOptions, RouteOptions, ShardSql } from "./router.ts";
export type { SqlExecutor, SqlResult, PrismaAdapter } from "./connections.ts";
export { disposeEmbeddedDatabase } from "./connections.ts";
export { scatterGather, mergeSortedPages } from "./scatter-gather.ts";
export type { Page, ScatterGatherOptions } from "./scatter-gather.ts";
export { migrate, readMigrations } from "./migrate.ts";
export type { MigrateOptions, MigrateResult, MigrationFile } from "./migrate.ts";
export { readStoredShardMap, publishShardMap } from "./map-store.ts";
export { createTestShardMap } from "./test-shard-map.ts";
export type { TestShardMap } from "./test-shard-map.ts";
export {
  ShardingError,
  ShardingErrorCodes,
  ShardMapInvalidError,
  ShardUnavailableError,
  InvalidIdError,
  ShardMovingError,
  ShardMovedError,
  MigrationError,
  isShardingError,
} from "./errors.ts";
export type { ShardingErrorCode } from "./errors.ts";
export { findPrismaSchemas, generatedOutputDir, prismaSchemaHash, staleGeneratedClients, SCHEMA_HASH_FILE } from "./prisma-schemas.ts";
export type { StaleClient } from "./prisma-schemas.ts";
export { moveLogicalShard, moveLogicalShards, cleanupMovedCopies, recoverInterruptedMoves, newestPublishedMap, shardedTables, DEFAULT_MOVE_OPTIONS } from "./move.ts";
export type { MoveOptions, MoveResult, CleanupResult, RecoverResult } from "./move.ts";
export { databaseSchemasOf, serviceDatabaseSchemas } from "./service-schemas.ts";
export { toIsoTimestamp, withTransientRetry } from "./sql-helpers.ts";
export { addShard, ensureDatabase, rebalance } from "./rebalance.ts";
export type { AddShardOptions, RebalanceOptions, RebalanceProgress, RebalanceResult } from "./rebalance.ts";
export { NOT_FENCED } from "./fence.ts";
export { createGroupCommit, firstOfEach, physicalExecutorOf } from "./group-commit.ts";
export type { GroupCommit, GroupWait, Waiting } from "./group-commit.ts";
