// The operator console (http-api.md v1.1): GET /api/ops/overview is for operators only, and it
// shows every process that reports to the ops.reports group — two instances of a service, each
// on its own connection to the bus like two processes, and the gateway itself — with their RPC
// methods, request channel and shards; one that stops reporting is shown as gone, not hidden.
import { createChannelLayer, createInMemoryFirehose, createOpsReporter, createRedisFirehose, createRpcClient, createRpcServer, defineMethod, type ChannelLayer, type OpsProbedRouter, type OpsReporter, type RpcServer } from "@boxoffice/bus";
import { requireRedis, uniqueName, waitFor } from "@boxoffice/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { buildGateway, type Gateway } from "../src/app.ts";
import { loadGatewayConfig } from "../src/config.ts";
import { createFakeBackend } from "./fake-backend.ts";
import { newSessionKey, sessionCookie } from "./helpers.ts";

const redis = await requireRedis();

const targets = [
  { name: "in-memory bus", available: true, url: () => "memory://" },
  { name: "Redis bus", available: redis.available, url: () => redis.url },
];

const echo = defineMethod({ name: "opsdemo.echo.v1", request: z.object({ fail: z.boolean().default(false) }), response: z.object({ ok: z.boolean() }) });

/** Two physical shards; the second one's database does not answer. */
const router: OpsProbedRouter = {
  map: { shards: [{ name: "shard0", logicalShards: [[0, 2047]] }, { name: "shard1", replicas: ["postgres://replica"], logicalShards: [[2048, 4095]] }] },
  sql: {
    forShard: (name) => ({ query: async () => (name === "shard0" ? { rows: [] } : Promise.reject(new Error("connection refused"))) }),
  },
};

describe.each(targets)("the operator console ($name)", (target) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function platform() {
    const prefix = uniqueName("ops");
    // In memory every "process" shares the one layer (it is one process); on Redis each has its own connection.
    const shared = target.url() === "memory://" ? createChannelLayer("memory://") : undefined;
    const layerOf = (): ChannelLayer => {
      if (shared) return shared;
      const layer = createChannelLayer(target.url(), { prefix });
      cleanups.push(() => layer.close());
      return layer;
    };
    if (shared) cleanups.push(() => shared.close());
    const config = loadGatewayConfig({ SESSION_KEYS: newSessionKey(), SERVE_WEB: "false", LOG_LEVEL: "silent", BUS_URL: target.url(), BUS_PREFIX: prefix, FIREHOSE_URL: target.url() });
    const firehose = createInMemoryFirehose();
    cleanups.push(() => firehose.close());
    const gateway: Gateway = await buildGateway(config, {
      layer: layerOf(),
      firehose,
      backend: createFakeBackend(),
      opsReportIntervalMs: 200,
    });
    cleanups.push(() => gateway.stop());
    const instances: Array<{ server: RpcServer; reporter: OpsReporter }> = [];
    for (const name of ["opsdemo-a", "opsdemo-b"]) {
      const layer = layerOf();
      const server = createRpcServer({ layer, service: "opsdemo", logger: { warn: () => {}, error: () => {} } });
      server.handle(echo, ({ fail }) => {
        if (fail) throw new Error("asked to fail");
        return { ok: true };
      });
      server.start();
      const reporter = createOpsReporter({ layer, service: "opsdemo", instance: name, rpcServer: server, router, intervalMs: 200 });
      reporter.start();
      cleanups.push(async () => {
        await reporter.stop();
        await server.stop();
      });
      instances.push({ server, reporter });
    }
    const client = createRpcClient({ layer: layerOf(), service: "gateway" });
    cleanups.push(() => client.close());
    return { gateway, instances, client, prefix };
  }

  async function signIn(gateway: Gateway, email: string, password: string): Promise<string> {
    const response = await gateway.app.inject({ method: "POST", url: "/api/session", payload: { email, password } });
    expect(response.statusCode, response.body).toBe(200);
    return sessionCookie(response);
  }

  it.skipIf(!target.available)("when nobody is signed in the overview is 401, for an organiser 403, and for the operator 200 in the documented shape", async () => {
    const { gateway } = await platform();
    const anonymous = await gateway.app.inject({ method: "GET", url: "/api/ops/overview" });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json()).toMatchObject({ error: { code: "UNAUTHENTICATED" } });

    const organiser = await signIn(gateway, "organizer@boxoffice.test", "organizer-password");
    const forbidden = await gateway.app.inject({ method: "GET", url: "/api/ops/overview", headers: { cookie: organiser } });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json()).toMatchObject({ error: { code: "FORBIDDEN" } });

    const operator = await signIn(gateway, "operator@boxoffice.test", "operator-password");
    const ok = await gateway.app.inject({ method: "GET", url: "/api/ops/overview", headers: { cookie: operator } });
    expect(ok.statusCode, ok.body).toBe(200);
    const { overview } = ok.json();
    expect(Object.keys(overview).sort()).toEqual(["channels", "firehose", "generatedAt", "instances", "methods", "rooms", "shards"]);
    expect(Number.isNaN(Date.parse(overview.generatedAt))).toBe(false);
  });

  it.skipIf(!target.available)("when two instances serve calls, the operator sees both, their method's rate and latency, the request channel and the shards with the unreachable one", async () => {
    const { gateway, client } = await platform();
    const operator = await signIn(gateway, "operator@boxoffice.test", "operator-password");
    const overview = async () => (await gateway.app.inject({ method: "GET", url: "/api/ops/overview", headers: { cookie: operator } })).json().overview;

    for (let i = 0; i < 20; i++) await client.call(echo, { fail: false });
    await client.call(echo, { fail: true }).catch(() => undefined);

    const seen = await waitFor(async () => {
      const o = await overview();
      const method = o.methods.find((m: { method: string }) => m.method === echo.name);
      return method && method.callsPerSecond > 0 && method.errorsPerSecond > 0 ? o : undefined;
    }, { what: "the echo method's calls and errors in the overview", timeoutMs: 15_000, intervalMs: 100 });

    const live = seen.instances.filter((i: { gone: boolean }) => !i.gone);
    expect(live.filter((i: { service: string }) => i.service === "opsdemo").map((i: { instance: string }) => i.instance).sort()).toEqual(["opsdemo-a", "opsdemo-b"]);
    expect(live.some((i: { service: string }) => i.service === "gateway")).toBe(true);
    for (const instance of live) {
      expect(instance).toEqual({
        service: expect.any(String), instance: expect.any(String), startedAt: expect.any(String), lastSeenAt: expect.any(String),
        inFlight: expect.any(Number), handledPerSecond: expect.any(Number), errorsPerSecond: expect.any(Number), gone: false,
      });
    }
    const method = seen.methods.find((m: { method: string }) => m.method === echo.name);
    expect(method).toEqual({ method: echo.name, callsPerSecond: expect.any(Number), p50Ms: expect.any(Number), p99Ms: expect.any(Number), errorsPerSecond: expect.any(Number) });
    expect(seen.channels).toContainEqual({ name: "opsdemo.rpc", depth: 0, capacity: 100 });
    expect(seen.shards).toEqual([
      { service: "opsdemo", shard: "shard0", logicalShards: [[0, 2047]], reachable: true, replicas: 0 },
      { service: "opsdemo", shard: "shard1", logicalShards: [[2048, 4095]], reachable: false, replicas: 1 },
    ]);
    expect(seen.firehose).toEqual([]);
    expect(seen.rooms).toEqual([]);
  });

  it.skipIf(!target.available)("when Prometheus scrapes /metrics, the console's picture is there as gauges: instances, the method's rate and p99, the request channel, the unreachable shard", async () => {
    const { gateway, client } = await platform();
    for (let i = 0; i < 20; i++) await client.call(echo, { fail: false });
    const scrape = async () => (await gateway.app.inject({ method: "GET", url: "/metrics" })).body;
    const text = await waitFor(async () => {
      const body = await scrape();
      return /boxoffice_rpc_calls_per_second\{method="opsdemo\.echo\.v1"\} [1-9]/.test(body) && body.includes('instance="opsdemo-b"') ? body : undefined;
    }, { what: "the echo method's rate and both instances on /metrics", timeoutMs: 15_000, intervalMs: 100 });
    expect(text).toContain('boxoffice_instance_up{service="opsdemo",instance="opsdemo-a"} 1');
    expect(text).toMatch(/boxoffice_rpc_latency_seconds\{method="opsdemo\.echo\.v1",quantile="0\.99"\} \d/);
    expect(text).toContain('boxoffice_channel_depth{channel="opsdemo.rpc"} 0');
    expect(text).toContain('boxoffice_channel_capacity{channel="opsdemo.rpc"} 100');
    expect(text).toContain('boxoffice_shard_reachable{service="opsdemo",shard="shard0"} 1');
    expect(text).toContain('boxoffice_shard_reachable{service="opsdemo",shard="shard1"} 0');
    expect(text).toContain("gateway_http_requests_total");
  });

  it.skipIf(!target.available)("when an instance stops reporting, it is shown as gone within a few seconds, and the other stays live", async () => {
    const { gateway, instances } = await platform();
    const operator = await signIn(gateway, "operator@boxoffice.test", "operator-password");
    const instancesNow = async () => (await gateway.app.inject({ method: "GET", url: "/api/ops/overview", headers: { cookie: operator } })).json().overview.instances as Array<{ instance: string; gone: boolean }>;
    await waitFor(async () => (await instancesNow()).filter((i) => i.instance.startsWith("opsdemo") && !i.gone).length === 2 || undefined, { what: "both instances live", timeoutMs: 15_000, intervalMs: 100 });

    await instances[1].reporter.stop();
    const after = await waitFor(async () => {
      const list = await instancesNow();
      return list.find((i) => i.instance === "opsdemo-b")?.gone ? list : undefined;
    }, { what: "opsdemo-b shown as gone", timeoutMs: 15_000, intervalMs: 200 });
    expect(after.find((i) => i.instance === "opsdemo-a")?.gone).toBe(false);
  });

  it.skipIf(!target.available || target.url() === "memory://")("when a consumer group reads the Redis firehose, the overview shows its stream, pending count, lag and dead letters", async () => {
    const { gateway, prefix } = await platform();
    const firehose = createRedisFirehose({ url: target.url(), prefix });
    cleanups.push(() => firehose.close());
    const consumer = firehose.consume("inventory", { group: "ops-console-test", consumer: "c1", visibilityTimeoutMs: 60_000, maxAttempts: 3, batchSize: 10 }, async () => {});
    cleanups.push(async () => consumer.close());
    await consumer.ready;
    await firehose.publish("inventory", { type: "inventory.test.v1", version: 1, key: "k", data: {} });
    const operator = await signIn(gateway, "operator@boxoffice.test", "operator-password");
    const row = await waitFor(async () => {
      const { overview } = (await gateway.app.inject({ method: "GET", url: "/api/ops/overview", headers: { cookie: operator } })).json();
      return (overview.firehose as Array<{ group: string; lag: number | null }>).find((r) => r.group === "ops-console-test" && r.lag === 0);
    }, { what: "the consumer group caught up in the overview", timeoutMs: 15_000, intervalMs: 100 });
    expect(row).toEqual({ stream: "inventory", group: "ops-console-test", lag: 0, pending: 0, deadLetters: 0 });
  });

  it.skipIf(!target.available)("when a buyer is in an event's waiting room, the overview lists that room with its title and counts", async () => {
    const { gateway } = await platform();
    const signUp = await gateway.app.inject({ method: "POST", url: "/api/users", payload: { email: "queuer@example.test", password: "long-enough", displayName: "Q" } });
    expect(signUp.statusCode).toBe(201);
    const buyer = await signIn(gateway, "queuer@example.test", "long-enough");
    const join = await gateway.app.inject({ method: "POST", url: "/api/events/100/queue", headers: { cookie: buyer } });
    expect(join.statusCode, join.body).toBeLessThan(300);
    const operator = await signIn(gateway, "operator@boxoffice.test", "operator-password");
    const { overview } = (await gateway.app.inject({ method: "GET", url: "/api/ops/overview", headers: { cookie: operator } })).json();
    expect(overview.rooms).toHaveLength(1);
    expect(overview.rooms[0]).toMatchObject({ eventId: "100", title: "Fake Festival", paused: false });
    expect(overview.rooms[0].waiting + overview.rooms[0].admitted).toBe(1);
  });
});
