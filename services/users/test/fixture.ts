// One fixture, two targets: the in-memory bus + PGlite shards, and Redis + Postgres shards. Every
// users test runs its body on both.
import { createChannelLayer, createInMemoryChannelLayer, createRpcClient, type ChannelLayer, type RpcClient } from "@boxoffice/bus";
import { createLogger, parseConfig, type Logger } from "@boxoffice/runtime";
import { createTestShardMap, type TestShardMap } from "@boxoffice/sharding";
import { redisUrl, requirePostgres, requireRedis, uniqueName } from "@boxoffice/testkit";
import { buildUsersService, usersConfigSchema, type UsersService } from "../src/index.ts";
import { createMemoryFailureCounter } from "../src/domain/login-limiter.ts";
import { createMemoryRefreshLedger } from "../src/domain/refresh-ledger.ts";

export interface Target {
  name: string;
  available: boolean;
  kind: "memory" | "redis";
}

const redis = await requireRedis();
const postgres = await requirePostgres();

export const targets: Target[] = [
  { name: "in-memory bus + PGlite", available: true, kind: "memory" },
  { name: "Redis bus + Postgres", available: redis.available && postgres.available, kind: "redis" },
];

export interface UsersHarness {
  client: RpcClient;
  layer: ChannelLayer;
  /** Starts one more users instance on the same bus and shards. */
  startInstance(env?: Record<string, string>): Promise<UsersService>;
  /** Stops one instance (the others keep serving). */
  stopInstance(service: UsersService): Promise<void>;
  readonly instances: UsersService[];
  logLines: string[];
  close(): Promise<void>;
}

export async function startUsers(target: Target, env: Record<string, string> = {}, physicalShards = 2): Promise<UsersHarness> {
  const prefix = uniqueName("users");
  const shards: TestShardMap = await createTestShardMap({ kind: target.kind === "memory" ? "pglite" : "postgres", physical: physicalShards, prefix });
  const layer = target.kind === "memory" ? createInMemoryChannelLayer() : createChannelLayer(redisUrl(), { prefix });
  // In one process the counters are shared by construction; the Redis target shares them through Redis.
  const sharedCounter = target.kind === "memory" ? createMemoryFailureCounter() : undefined;
  const sharedLedger = target.kind === "memory" ? createMemoryRefreshLedger() : undefined;
  const logLines: string[] = [];
  const logger: Logger = createLogger({ service: "users-test", level: "debug", destination: { write: (line) => void logLines.push(line) } });
  const instances: UsersService[] = [];
  const baseEnv = {
    BUS_URL: target.kind === "memory" ? "memory://" : redisUrl(),
    BUS_PREFIX: prefix,
    USERS_SCRYPT_LOG_N: "10", // tests check behaviour, not KDF cost
    SEED_DEMO: "true",
    LOG_LEVEL: "debug",
  };
  const startInstance = async (extra: Record<string, string> = {}) => {
    const config = parseConfig("users", usersConfigSchema, { ...baseEnv, ...env, ...extra });
    const service = buildUsersService(config, { layer, logger, shardMap: shards.map, failureCounter: sharedCounter, refreshLedger: sharedLedger });
    await service.start();
    instances.push(service);
    return service;
  };
  await startInstance();
  const client = createRpcClient({ layer, service: "users-test" });
  return {
    client,
    layer,
    startInstance,
    async stopInstance(service) {
      instances.splice(instances.indexOf(service), 1);
      await service.stop();
    },
    instances,
    logLines,
    async close() {
      await client.close();
      for (const instance of instances) await instance.stop();
      await layer.close();
      await sharedCounter?.close();
      await sharedLedger?.close();
      await shards.drop();
    },
  };
}
