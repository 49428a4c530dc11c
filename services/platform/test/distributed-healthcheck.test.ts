// The health check script the images and probes run: healthy when the service answers its health
// method over the bus (or the gateway its /healthz), unhealthy otherwise; for liveness an
// unreachable bus is not the process's fault and passes.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createChannelLayer, createRpcServer, type ChannelLayer, type RpcServer } from "@boxoffice/bus";
import { usersHealthV1 } from "@boxoffice/contracts";
import { requireRedis, uniqueName } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkHealth } from "../src/distributed/healthcheck.ts";

const redis = await requireRedis();
const UNREACHABLE_BUS = "redis://127.0.0.1:1/0";

describe.skipIf(!redis.available)("the health check script", () => {
  const prefix = uniqueName("healthcheck");
  const env = { BUS_URL: redis.url, BUS_PREFIX: prefix };
  let layer: ChannelLayer;
  let server: RpcServer;
  let shardsOk = true;

  beforeAll(() => {
    layer = createChannelLayer(redis.url, { prefix });
    server = createRpcServer({ layer, service: "users", logger: { error() {}, warn() {}, info() {} } as never });
    server.handle(usersHealthV1, () => ({ service: "users", ok: shardsOk, bus: true, shards: [{ shard: "users-0", ok: shardsOk }] }));
    server.start();
  });

  afterAll(async () => {
    await server.stop();
    await layer.close();
  });

  it("when an instance answers users.health.v1 with ok, users is healthy", async () => {
    shardsOk = true;
    const result = await checkHealth({ service: "users", env });
    expect(result).toMatchObject({ healthy: true });
  });

  it("when the service answers but a shard is down, it is unhealthy and the shard is named", async () => {
    shardsOk = false;
    const result = await checkHealth({ service: "users", env });
    shardsOk = true;
    expect(result.healthy).toBe(false);
    expect(result.detail).toContain("users-0");
  });

  it("when no instance of the service answers, it is unhealthy, for readiness and liveness alike", async () => {
    for (const liveness of [false, true]) {
      const result = await checkHealth({ service: "events", env, liveness, timeoutMs: 300 });
      expect(result.healthy, `liveness=${liveness}: ${result.detail}`).toBe(false);
    }
  });

  it("when the service's request channel is full (a spike), readiness fails but liveness passes", async () => {
    const busyPrefix = uniqueName("healthcheck_busy");
    const filler = createChannelLayer(redis.url, { prefix: busyPrefix });
    try {
      // Nobody serves "payments" under this prefix: its request channel fills up and stays full.
      for (let i = 0; i < 100; i++) await filler.send("payments.rpc", { filler: i });
      const busy = { BUS_URL: redis.url, BUS_PREFIX: busyPrefix };
      const readiness = await checkHealth({ service: "payments", env: busy, timeoutMs: 1000 });
      expect(readiness.healthy, readiness.detail).toBe(false);
      const liveness = await checkHealth({ service: "payments", env: busy, liveness: true, timeoutMs: 1000 });
      expect(liveness.healthy, liveness.detail).toBe(true);
      expect(liveness.detail).toContain("busy");
    } finally {
      await filler.flush();
      await filler.close();
    }
  });

  it("when the bus is unreachable, readiness fails but liveness passes (a restart would not help)", async () => {
    const busDown = { BUS_URL: UNREACHABLE_BUS, BUS_PREFIX: prefix };
    expect((await checkHealth({ service: "users", env: busDown, timeoutMs: 1000 })).healthy).toBe(false);
    expect((await checkHealth({ service: "users", env: busDown, liveness: true, timeoutMs: 1000 })).healthy).toBe(true);
  });
});

describe("the gateway health check", () => {
  let http: Server;
  let port: number;
  let alive = true;

  beforeAll(async () => {
    http = createServer((request, response) => {
      response.statusCode = request.url === "/healthz" && alive ? 200 : 503;
      response.end();
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    port = (http.address() as AddressInfo).port;
  });

  afterAll(() => new Promise<void>((resolve) => http.close(() => resolve())));

  it("when GET /healthz on PORT answers 200, the gateway is healthy; 503 or nothing listening, it is not", async () => {
    alive = true;
    expect((await checkHealth({ service: "gateway", env: { PORT: String(port) } })).healthy).toBe(true);
    alive = false;
    expect((await checkHealth({ service: "gateway", env: { PORT: String(port) } })).healthy).toBe(false);
    expect((await checkHealth({ service: "gateway", env: { PORT: "1" }, timeoutMs: 500 })).healthy).toBe(false);
  });
});
