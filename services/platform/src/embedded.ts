// The embedded composition root: every service and the gateway in ONE process, on the in-memory
// bus and firehose, each service with its own embedded PGlite database under DATA_DIR. The same
// build functions run as separate processes in distributed mode; only this wiring differs.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInMemoryChannelLayer, createInMemoryFirehose } from "@boxoffice/bus";
import { buildEventsService, eventsConfigSchema } from "@boxoffice/events";
import { buildGateway, ensureWebUiBuilt, gatewayConfigSchema, type Gateway } from "@boxoffice/gateway";
import { buildInventoryService, inventoryConfigSchema } from "@boxoffice/inventory";
import { buildPaymentsService, paymentsConfigSchema } from "@boxoffice/payments";
import { createLogger, parseConfig, type Logger } from "@boxoffice/runtime";
import { singleShardMap } from "@boxoffice/sharding";
import { buildUsersService, usersConfigSchema } from "@boxoffice/users";
import type { PlatformConfig } from "./config.ts";
import { seedDemoData, type DemoEvent } from "./demo-data.ts";
import { createDatabaseFromTemplate, ensurePgliteTemplate } from "./pglite-template.ts";

export interface EmbeddedPlatform {
  readonly url: string;
  readonly gateway: Gateway;
  /** Milliseconds from the call to serving HTTP. */
  readonly startupMs: number;
  /** Milliseconds from the call to the demo data being in place. */
  readonly readyMs: number;
  /** Demo event titles created by this start (empty when they existed). */
  readonly seeded: string[];
  stop(): Promise<void>;
}

interface Startable {
  start(): Promise<unknown>;
  stop(): Promise<void>;
}

/** Session cookie keys: from SESSION_KEYS, else generated once and kept under DATA_DIR. */
function sessionKeys(env: Record<string, string | undefined>, dataDir: string): string {
  if (env.SESSION_KEYS) return env.SESSION_KEYS;
  const file = join(dataDir, "session-keys");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const key = randomBytes(32).toString("hex");
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

export async function startEmbeddedPlatform(
  config: PlatformConfig,
  options: {
    env?: Record<string, string | undefined>;
    logger?: Logger;
    /** Replaces the demo events (tests seed a few small ones instead of the 20,000-seat one). */
    demoEvents?: DemoEvent[];
  } = {},
): Promise<EmbeddedPlatform> {
  const started = Date.now();
  const env = options.env ?? process.env;
  const logger = options.logger ?? createLogger({ service: "platform", level: config.LOG_LEVEL });
  // Each service logs under its own name (a child of the platform logger would carry "service" twice).
  const serviceLogger = (service: string): Logger => (options.logger ? options.logger.child({ service }) : createLogger({ service, level: config.LOG_LEVEL }));
  const dataDir = resolve(config.DATA_DIR);
  if (config.FRESH) rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });

  // Waiting-room admissions are signed by the gateway and verified by inventory; the rooms live in
  // this process's memory, so a key made up at each start is enough.
  const admissionKeys = env.ADMISSION_KEYS ?? randomBytes(32).toString("hex");
  // Reply inboxes sized like a service process's (BUS_REPLY_CAPACITY default), not the 100 of named channels.
  const layer = createInMemoryChannelLayer({ channelCapacity: [[/!/, 10_000]] });
  const firehose = createInMemoryFirehose();
  // What every service sees: the caller's environment, then the embedded choices on top.
  const serviceEnv = (service: string): Record<string, string | undefined> => ({
    ...env,
    BUS_URL: "memory://",
    FIREHOSE_URL: "memory://",
    LOG_LEVEL: config.LOG_LEVEL,
    MIGRATE_ON_START: "true",
    HOLD_TTL_SECONDS: String(config.HOLD_TTL_SECONDS),
    SEED_DEMO: String(config.SEED_DEMO),
    // One laptop session should outlive the default 15-minute identity token.
    USERS_TOKEN_TTL_SECONDS: env.USERS_TOKEN_TTL_SECONDS ?? "43200",
    SESSION_TTL_SECONDS: env.SESSION_TTL_SECONDS ?? "43200",
    SESSION_KEYS: service === "gateway" ? sessionKeys(env, dataDir) : undefined,
    ADMISSION_KEYS: service === "gateway" || service === "inventory" ? admissionKeys : undefined,
    PORT: String(config.PORT),
    HOST: config.HOST,
  });
  // One embedded PGlite database holds every service's tables (each service its own tables and
  // migration ledger, never another's): a PGlite instance costs seconds to create and they do not
  // start in parallel, so one instead of four is what keeps `npm start` fast. Distributed mode
  // gives each service its own databases through the same shard-map setting.
  const databaseDir = join(dataDir, "pglite");
  const databaseUrl = `pglite://${databaseDir}`;
  if (!(await createDatabaseFromTemplate(databaseDir)) && !existsSync(databaseDir)) {
    // No template yet (install scripts skipped): make it now, in parallel with nothing else to do.
    await ensurePgliteTemplate().then(() => createDatabaseFromTemplate(databaseDir)).catch((error: unknown) => logger.warn({ err: error }, "no PGlite template; creating the database directly"));
  }
  const shardMap = (service: string) => singleShardMap(databaseUrl, { name: `${service}-0` });
  const deps = (service: string) => ({ layer, firehose, logger: serviceLogger(service), shardMap: shardMap(service) });

  const services: Array<[string, Startable]> = [
    ["users", buildUsersService(parseConfig("users", usersConfigSchema, serviceEnv("users")), deps("users"))],
    ["events", buildEventsService(parseConfig("events", eventsConfigSchema, serviceEnv("events")), deps("events"))],
    ["inventory", buildInventoryService(parseConfig("inventory", inventoryConfigSchema, serviceEnv("inventory")), deps("inventory"))],
    ["payments", buildPaymentsService(parseConfig("payments", paymentsConfigSchema, serviceEnv("payments")), deps("payments"))],
  ];
  const running: Startable[] = [];
  const stopAll = async () => {
    for (const service of running.reverse()) await service.stop().catch((error: unknown) => logger.error({ err: error }, "stop failed"));
    await firehose.close();
    await layer.close();
  };

  let gateway: Gateway;
  let seeded: string[] = [];
  try {
    // Started together: migrations and database opening overlap where PGlite lets them, and the
    // web UI builds (when its sources changed) meanwhile.
    const webUi = ensureWebUiBuilt(logger);
    webUi.catch(() => {}); // awaited below; a failure there is reported once, not as unhandled.
    await Promise.all(services.map(async ([name, service]) => {
      const t = Date.now();
      await service.start();
      running.push(service);
      logger.info({ service: name, ms: Date.now() - t }, "service started");
    }));
    await webUi;
    gateway = await buildGateway(parseConfig("gateway", gatewayConfigSchema, serviceEnv("gateway")), { layer, firehose, logger: serviceLogger("gateway") });
    const url = await gateway.start();
    running.push(gateway);
    const startupMs = Date.now() - started;
    if (config.SEED_DEMO) seeded = await seedDemoData(layer, options.demoEvents);
    return {
      url,
      gateway,
      startupMs,
      readyMs: Date.now() - started,
      seeded,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
