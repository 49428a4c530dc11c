// The health check every boxoffice image runs (Docker HEALTHCHECK, Kubernetes exec probes):
//   node services/platform/src/distributed/healthcheck.ts [--service <name>] [--liveness]
// The gateway has an HTTP port, so it is asked GET /healthz. The other services have none: they are
// asked `<service>.health.v1` over the bus, with the same BUS_URL/BUS_PREFIX the process itself has.
// A bus health call reaches whichever instance takes it, so it says "the service answers", not
// "this pod answers"; for liveness an unreachable bus or a full request channel counts as alive,
// because restarting every pod cures neither (docs/operations.md).
import { parseArgs } from "node:util";
import { createChannelLayer, createRpcClient, RpcError, RpcErrorCodes } from "@boxoffice/bus";
import { eventsHealthV1, inventoryHealthV1, paymentsHealthV1, usersHealthV1 } from "@boxoffice/contracts";
import { commonConfigShape, parseConfig, redisTlsOf, serviceTrust, withRedisCredentials } from "@boxoffice/runtime";
import { z } from "zod";

const busConfigSchema = z.object({
  BUS_URL: commonConfigShape.BUS_URL,
  BUS_PREFIX: commonConfigShape.BUS_PREFIX,
  BUS_ENCRYPTION_KEYS: commonConfigShape.BUS_ENCRYPTION_KEYS,
  REDIS_TLS_CA_FILE: commonConfigShape.REDIS_TLS_CA_FILE,
  REDIS_USERNAME: commonConfigShape.REDIS_USERNAME,
  REDIS_PASSWORD: commonConfigShape.REDIS_PASSWORD,
  SERVICE_IDENTITY_SECRET: commonConfigShape.SERVICE_IDENTITY_SECRET,
});

export const HEALTH_METHODS = {
  users: usersHealthV1,
  events: eventsHealthV1,
  inventory: inventoryHealthV1,
  payments: paymentsHealthV1,
} as const;

export type BusService = keyof typeof HEALTH_METHODS;
export type CheckedService = BusService | "gateway";

export interface HealthCheckOptions {
  service: CheckedService;
  /** Liveness: an unreachable bus is not this process's fault, so it passes. */
  liveness?: boolean;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

export interface HealthCheckResult {
  healthy: boolean;
  detail: string;
}

function isBusService(service: string): service is BusService {
  return Object.hasOwn(HEALTH_METHODS, service);
}

async function checkGateway(env: Record<string, string | undefined>, timeoutMs: number): Promise<HealthCheckResult> {
  const url = `http://127.0.0.1:${env.PORT ?? "3000"}/healthz`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { healthy: response.ok, detail: `GET ${url} → ${response.status}` };
  } catch (error) {
    return { healthy: false, detail: `GET ${url} failed: ${(error as Error).message}` };
  }
}

async function checkBusService(service: BusService, options: HealthCheckOptions, env: Record<string, string | undefined>, timeoutMs: number): Promise<HealthCheckResult> {
  // The same bus settings as the process it checks: an encrypted bus needs its keys, rediss:// its CA.
  const bus = parseConfig(`${service} health check`, busConfigSchema, env);
  const layer = createChannelLayer(withRedisCredentials(bus.BUS_URL, bus), { prefix: bus.BUS_PREFIX, symmetricEncryptionKeys: bus.BUS_ENCRYPTION_KEYS, tls: redisTlsOf(bus) });
  // Run inside the service's own container: it proves its identity with that service's key.
  const identity = serviceTrust(bus, service).identity;
  const client = createRpcClient({ layer, service: identity ? service : "healthcheck", defaultDeadlineMs: timeoutMs, identity });
  try {
    const health = await client.call(HEALTH_METHODS[service], {});
    const failing = health.shards.filter((shard) => !shard.ok).map((shard) => shard.shard);
    return {
      healthy: health.ok,
      detail: health.ok ? `${service} answers; ${health.shards.length} shard(s) reachable` : `${service} answers but is not ok (failing shards: ${failing.join(", ") || "none"})`,
    };
  } catch (error) {
    const code = error instanceof RpcError ? error.code : undefined;
    // Neither a Redis outage nor a full request channel (an on-sale spike) is cured by restarting
    // pods; restarting them then would only make it worse.
    if (options.liveness && code === RpcErrorCodes.UNAVAILABLE) return { healthy: true, detail: `the bus is unreachable (${(error as Error).message}); alive as far as a restart could help` };
    if (options.liveness && code === RpcErrorCodes.BUSY) return { healthy: true, detail: `${service} is busy (its request channel is full); alive` };
    return { healthy: false, detail: `${service}.health.v1 failed: ${(error as Error).message}` };
  } finally {
    await client.close();
    await layer.close();
  }
}

/** Runs one check; never throws. */
export async function checkHealth(options: HealthCheckOptions): Promise<HealthCheckResult> {
  const env = options.env ?? process.env;
  const timeoutMs = options.timeoutMs ?? 3000;
  if (options.service === "gateway") return checkGateway(env, timeoutMs);
  return checkBusService(options.service, options, env, timeoutMs);
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { service: { type: "string" }, liveness: { type: "boolean", default: false } } });
  const service = values.service ?? process.env.SERVICE ?? "";
  if (service !== "gateway" && !isBusService(service)) {
    console.error(`healthcheck: unknown service "${service}" (use --service or SERVICE: gateway, ${Object.keys(HEALTH_METHODS).join(", ")})`);
    process.exit(2);
  }
  const result = await checkHealth({ service, liveness: values.liveness });
  console.log(`healthcheck: ${result.healthy ? "healthy" : "unhealthy"}: ${result.detail}`);
  process.exit(result.healthy ? 0 : 1);
}
