// What an intruder with read access to Redis sees of a sign-in and a purchase on the platform as
// separate processes (`start:distributed`'s topology): every command Redis executes is captured
// with MONITOR while a buyer signs up, signs in and pays, and everything left under the platform's
// prefix is read back afterwards. The password and the card number must appear in neither.
// The same platform checks who calls: a process that has the bus key but not a service's identity
// key, or a service a method does not name, is refused before any handler runs.
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRpcClient, createServiceIdentity, generateServiceIdentitySecret, RpcErrorCodes, type ServiceIdentity } from "@boxoffice/bus";
import { paymentsRefundV1, usersLoginV1 } from "@boxoffice/contracts";
import { requirePostgres, requireRedis, uniqueName } from "@boxoffice/testkit";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDistributedPlatform, type DistributedPlatform } from "../src/distributed/topology.ts";

const redis = await requireRedis();
const postgres = await requirePostgres();

const CARD_NUMBER = "4242424242424242";
const ORGANIZER = { email: "organizer@boxoffice.test", password: "organizer-password" };

async function call(base: string, cookie: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...(cookie ? { cookie } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  const setCookie = response.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown>, cookie: setCookie || cookie };
}

/** Everything stored under `prefix`, as text: list items, stream entries, strings, hashes, sets. */
async function dumpKeys(client: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 500);
    cursor = next;
    for (const key of keys) {
      out.push(key);
      const type = await client.type(key);
      if (type === "list") out.push(...(await client.lrange(key, 0, -1)));
      else if (type === "stream") out.push(JSON.stringify(await client.xrange(key, "-", "+")));
      else if (type === "string") out.push(String(await client.get(key)));
      else if (type === "hash") out.push(JSON.stringify(await client.hgetall(key)));
      else if (type === "zset") out.push(...(await client.zrange(key, 0, -1)));
      else if (type === "set") out.push(...(await client.smembers(key)));
    }
  } while (cursor !== "0");
  return out;
}

describe.skipIf(!redis.available || !postgres.available)("the bus at rest in Redis, on the distributed platform", () => {
  let platform: DistributedPlatform;
  let monitor: Redis;
  const busPrefix = uniqueName("at_rest");
  /** Commands Redis ran that touch this platform's keys (other tests share the server). */
  const seen: string[] = [];
  const logs: string[] = [];

  beforeAll(async () => {
    monitor = await new Redis(redis.url).monitor();
    monitor.on("monitor", (_time: string, args: string[]) => {
      const line = args.join(" ");
      if (line.includes(busPrefix)) seen.push(line);
    });
    platform = await startDistributedPlatform({
      redisUrl: redis.url,
      postgresUrl: postgres.url,
      busPrefix,
      databasePrefix: uniqueName("bo_rest"),
      stateDir: join(tmpdir(), uniqueName("boxoffice_at_rest")),
      instances: 1,
      gateways: 1,
      shardsPerService: 1,
      port: 0,
      logLevel: "warn",
      dropDatabasesOnStop: true,
      startTimeoutMs: 100_000,
      env: { USERS_SCRYPT_LOG_N: "10", SERVE_WEB: "false" },
      onOutput: (name, line) => {
        logs.push(`${name} | ${line}`);
        if (logs.length > 500) logs.shift();
      },
    });
  }, 110_000);

  afterAll(async () => {
    await platform?.stop();
    monitor?.disconnect();
  }, 60_000);

  it("when a buyer signs up, signs in and pays, neither the password nor the card number reaches Redis", async () => {
    const password = `pw-${randomUUID()}`;
    const email = `rest-${randomUUID().slice(0, 8)}@example.test`;
    const title = `At rest ${randomUUID()}`;

    const organizer = await call(platform.url, "", "POST", "/api/session", ORGANIZER);
    expect(organizer.status, JSON.stringify(organizer.body)).toBe(200);
    const created = await call(platform.url, organizer.cookie, "POST", "/api/events", {
      title,
      venue: "Vault",
      startsAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
      sections: [{ name: "Floor", rows: 1, seatsPerRow: 4, priceCents: 1_000 }],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const eventId = (created.body.event as { id: string }).id;

    expect((await call(platform.url, "", "POST", "/api/users", { email, password, displayName: "Rest" })).status).toBe(201);
    const signedIn = await call(platform.url, "", "POST", "/api/session", { email, password });
    expect(signedIn.status, JSON.stringify(signedIn.body)).toBe(200);
    const hold = await call(platform.url, signedIn.cookie, "POST", `/api/events/${eventId}/holds`, { quantity: 1 });
    expect(hold.status, JSON.stringify(hold.body)).toBe(201);
    const order = await call(
      platform.url,
      signedIn.cookie,
      "POST",
      "/api/orders",
      { holdId: (hold.body.hold as { id: string }).id, payment: { cardNumber: CARD_NUMBER, expMonth: 12, expYear: 2030, cvc: "737" } },
      { "idempotency-key": randomUUID() },
    );
    expect(order.status, JSON.stringify(order.body)).toBe(201);

    const reader = new Redis(redis.url);
    const stored = await dumpKeys(reader, busPrefix).finally(() => reader.disconnect());
    // The capture works: the catalogue's firehose event (public data, not encrypted) carries the title.
    expect(seen.some((line) => line.includes(title)), "MONITOR saw the event's title on the firehose").toBe(true);
    expect(seen.length).toBeGreaterThan(10);
    const leaks = (secret: string, lines: string[]) => lines.filter((line) => line.includes(secret)).map((line) => line.slice(0, 200));
    expect(leaks(password, seen), "commands Redis ran that carried the password").toEqual([]);
    expect(leaks(CARD_NUMBER, seen), "commands Redis ran that carried the card number").toEqual([]);
    expect(leaks(password, stored), "keys and values holding the password").toEqual([]);
    expect(leaks(CARD_NUMBER, stored), "keys and values holding the card number").toEqual([]);
  }, 90_000);

  async function callRefund(identity: ServiceIdentity | undefined, token?: string) {
    const rpc = createRpcClient({ layer: platform.layer, service: identity?.service ?? "inventory", defaultDeadlineMs: 5000, identity });
    try {
      await rpc.call(paymentsRefundV1, { paymentId: "1", idempotencyKey: randomUUID(), buyerId: "1" }, { token });
      return "OK";
    } catch (error) {
      return (error as { code?: string }).code ?? String(error);
    } finally {
      await rpc.close();
    }
  }

  it("when a process with the bus key only claims to be inventory, payments refuses the refund as UNAUTHENTICATED", async () => {
    expect(await callRefund(undefined)).toBe(RpcErrorCodes.UNAUTHENTICATED);
    expect(await callRefund(createServiceIdentity({ service: "inventory", secret: generateServiceIdentitySecret() }))).toBe(RpcErrorCodes.UNAUTHENTICATED);
  });

  it("when the gateway asks payments for a refund for a buyer, it is FORBIDDEN (only inventory or an organiser may)", async () => {
    const gateway = createRpcClient({ layer: platform.layer, service: "gateway", defaultDeadlineMs: 10_000, identity: platform.identity });
    const email = `refund-${randomUUID().slice(0, 8)}@example.test`;
    const password = `pw-${randomUUID()}`;
    expect((await call(platform.url, "", "POST", "/api/users", { email, password, displayName: "Refund" })).status).toBe(201);
    const buyer = await gateway.call(usersLoginV1, { email, password });
    const organizer = await gateway.call(usersLoginV1, ORGANIZER);
    await gateway.close();
    expect(await callRefund(platform.identity, buyer.token)).toBe(RpcErrorCodes.FORBIDDEN);
    // An organiser's token lets the request through to the handler, which finds no such payment.
    expect(await callRefund(platform.identity, organizer.token)).not.toMatch(/FORBIDDEN|UNAUTHENTICATED/);
  });
});
