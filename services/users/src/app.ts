// Builds the users service from config and dependencies; never listens by itself. The same build
// runs in its own process (main.ts) or inside the embedded host beside the other services.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createOpsReporter, createRpcServer, logRedisStateChanges, methodsServedBy, type ChannelLayer } from "@boxoffice/bus";
import { createTokenSigner, createTokenVerifier, REFRESH_AUDIENCE } from "@boxoffice/identity";
import { redisTlsOf, serviceTrust, withRedisCredentials, type Logger } from "@boxoffice/runtime";
import { createIdGenerator, createShardRouter, loadShardMap, migrate, type ShardMap } from "@boxoffice/sharding";
import { Redis } from "ioredis";
import type { UsersConfig } from "./config.ts";
import { seedDemoAccount } from "./domain/accounts.ts";
import { createLoginLimiter, createMemoryFailureCounter, createRedisFailureCounter, type FailureCounter } from "./domain/login-limiter.ts";
import { createPasswordHasher } from "./domain/password-hasher.ts";
import { createMemoryRefreshLedger, createRedisRefreshLedger, type RefreshLedger } from "./domain/refresh-ledger.ts";
import { resolveSigningKeys } from "./domain/signing-keys.ts";
import { registerUsersHandlers } from "./handlers/rpc-handlers.ts";
import { PrismaClient } from "./store/generated/client.ts";
import { createUsersStore } from "./store/users-store.ts";

export const USERS_MIGRATIONS_DIR = join(fileURLToPath(new URL("../prisma/migrations", import.meta.url)));

export interface UsersDeps {
  layer: ChannelLayer;
  logger: Logger;
  /** Overrides SHARD_MAP / SHARD_MAP_FILE (the embedded host and tests pass theirs). */
  shardMap?: ShardMap;
  /** Overrides where login failure counters live (tests). */
  failureCounter?: FailureCounter;
  /** Overrides where refresh token families live (tests). */
  refreshLedger?: RefreshLedger;
}

export interface UsersService {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Method names this service serves once started (the contract test compares them with @boxoffice/contracts). */
  servedMethods(): string[];
}

function rateLimitRedisUrl(config: UsersConfig): string | undefined {
  if (config.RATE_LIMIT_REDIS_URL) return config.RATE_LIMIT_REDIS_URL;
  return config.BUS_URL.startsWith("redis") ? withRedisCredentials(config.BUS_URL.split(",")[0], config) : undefined;
}

export function buildUsersService(config: UsersConfig, deps: UsersDeps): UsersService {
  const logger = deps.logger;
  const map = deps.shardMap ?? loadShardMap({ env: config.SHARD_MAP, file: config.SHARD_MAP_FILE });
  const router = createShardRouter({ map, createClient: (adapter) => new PrismaClient({ adapter }) });
  const store = createUsersStore({
    forKey: (key) => router.sql.forKey(key),
    prismaForId: (id) => router.forId(id),
    all: () => router.sql.all().map((s) => s.sql),
  });
  const ids = createIdGenerator({ nodeId: config.NODE_ID });
  const hasher = createPasswordHasher({ logN: config.USERS_SCRYPT_LOG_N, r: 8, p: 1 });
  const redisUrl = rateLimitRedisUrl(config);
  const redisOptions = { lazyConnect: false, maxRetriesPerRequest: 2, ...(redisUrl?.startsWith("rediss://") ? { tls: redisTlsOf(config) } : {}) };
  const counterRedis = !deps.failureCounter && redisUrl ? new Redis(redisUrl, redisOptions) : undefined;
  if (counterRedis) logRedisStateChanges(counterRedis, { name: "login limiter", logger });
  const counter =
    deps.failureCounter ?? (counterRedis ? createRedisFailureCounter(counterRedis, `${config.BUS_PREFIX}:users`) : createMemoryFailureCounter());
  // Refresh token families live beside the login counters: Redis when distributed, memory in one process.
  const ledgerRedis = !deps.refreshLedger && redisUrl ? new Redis(redisUrl, redisOptions) : undefined;
  if (ledgerRedis) logRedisStateChanges(ledgerRedis, { name: "refresh ledger", logger });
  const ledger = deps.refreshLedger ?? (ledgerRedis ? createRedisRefreshLedger(ledgerRedis, `${config.BUS_PREFIX}:users`) : createMemoryRefreshLedger());
  const limiter = createLoginLimiter(counter, {
    perPair: config.LOGIN_MAX_FAILURES_PER_EMAIL_AND_ADDRESS,
    perAddress: config.LOGIN_MAX_FAILURES_PER_ADDRESS,
    windowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS,
    delayBaseSeconds: config.LOGIN_DELAY_BASE_SECONDS,
    delayMaxSeconds: config.LOGIN_DELAY_MAX_SECONDS,
  });
  const server = createRpcServer({ layer: deps.layer, service: "users", concurrency: config.RPC_CONCURRENCY, logger, identities: serviceTrust(config, "users").identities });
  // Reports to the operator console every 2 s (counters in memory; nothing on a request's path).
  const reporter = createOpsReporter({ layer: deps.layer, service: "users", rpcServer: server, router });
  const keys = resolveSigningKeys(config);
  const signerReady = createTokenSigner({ keys: keys.keys, ttlSeconds: config.USERS_TOKEN_TTL_SECONDS });

  return {
    async start() {
      if (keys.development) logger.warn({ kid: keys.keys[0].kid }, "USERS_SIGNING_KEYS unset: signing with the deterministic development key");
      if (config.MIGRATE_ON_START) await migrate({ map, migrationsDir: USERS_MIGRATIONS_DIR, service: "users", log: (line) => logger.info(line) });
      const signer = await signerReady;
      const verifier = createTokenVerifier({ fetchKeys: async () => signer.publicKeys() });
      const refreshVerifier = createTokenVerifier({ fetchKeys: async () => signer.publicKeys(), audience: REFRESH_AUDIENCE });
      const accounts = { store, hasher, newUserId: (email: string) => ids.forKey(email) };
      if (config.SEED_DEMO ?? config.BUS_URL.startsWith("memory://")) {
        const demo = [
          { email: config.DEMO_ORGANIZER_EMAIL.toLowerCase(), password: config.DEMO_ORGANIZER_PASSWORD, displayName: "Demo Organizer", role: "organizer" as const },
          { email: config.DEMO_OPERATOR_EMAIL.toLowerCase(), password: config.DEMO_OPERATOR_PASSWORD, displayName: "Demo Operator", role: "operator" as const },
        ];
        for (const account of demo) {
          const outcome = await seedDemoAccount(account, accounts);
          logger.info({ email: account.email, role: account.role, outcome }, "demo account seeded");
        }
      }
      registerUsersHandlers(server, {
        ...accounts,
        limiter,
        signer,
        verifier,
        refreshVerifier,
        logger,
        refreshTtlSeconds: config.USERS_REFRESH_TTL_SECONDS,
        ledger,
      });
      server.start();
      reporter.start();
    },
    async stop() {
      await reporter.stop();
      await server.stop();
      // A counter or ledger handed in is shared with other instances: its owner closes it, not us.
      await Promise.allSettled([deps.failureCounter ? undefined : counter.close(), deps.refreshLedger ? undefined : ledger.close(), router.close()]);
    },
    servedMethods: () => methodsServedBy(server),
  };
}
