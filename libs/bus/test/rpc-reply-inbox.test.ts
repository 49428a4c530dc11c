// A reply inbox that is full for a moment (a caller busy reading) must not cost the answer to work
// already done: the server waits for room until the request's deadline; only then is the reply
// dropped, and that is logged and counted.
import { randomUUID } from "node:crypto";
import { requireRedis, uniqueName, waitFor } from "@boxoffice/testkit";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createInMemoryChannelLayer, createRedisChannelLayer, createRpcServer, defineMethod, type ChannelLayer } from "../src/index.ts";

const redis = await requireRedis();
const INBOX_CAPACITY = 1;
// The Redis variant is always declared: without Redis it shows as skipped, never vanishes.
const targets: Array<[name: string, make: () => ChannelLayer, available: boolean]> = [
  ["in-memory layer", () => createInMemoryChannelLayer({ channelCapacity: [[/!/, INBOX_CAPACITY]] }), true],
  ["Redis layer", () => createRedisChannelLayer({ hosts: [redis.url], prefix: uniqueName("inbox"), channelCapacity: [[/!/, INBOX_CAPACITY]] }), redis.available],
];

const pingV1 = defineMethod({ name: "inbox.ping.v1", request: z.object({}), response: z.object({ pong: z.literal(true) }) });

function request(replyTo: string, deadlineMs: number) {
  return { id: randomUUID(), method: pingV1.name, body: {}, replyTo, deadline: Date.now() + deadlineMs, traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", caller: "test" };
}

for (const [name, make, available] of targets) describe.skipIf(!available)(`RPC replies into a full inbox (${name})`, () => {
  it("when the caller's inbox is full for a moment, the reply waits for room and arrives; nothing is dropped", async () => {
    const layer = make();
    const warnings: string[] = [];
    const server = createRpcServer({ layer, service: "inbox", logger: { warn: (_o: object, msg: string) => warnings.push(msg), error: () => {} } }).handle(pingV1, async () => ({ pong: true as const }));
    server.start();
    const inbox = await layer.newChannel("rpc");
    await layer.send(inbox, { filler: true });
    await layer.send("inbox.rpc", request(inbox, 10_000));
    // The handler has answered by now or soon; the inbox is still full.
    await new Promise((r) => setTimeout(r, 100));
    expect(await layer.receive(inbox)).toEqual({ filler: true });
    const reply = (await layer.receive(inbox)) as { ok: boolean; body: unknown };
    expect(reply).toMatchObject({ ok: true, body: { pong: true } });
    expect(server.repliesDropped).toBe(0);
    expect(warnings).toEqual([]);
    await server.stop();
    await layer.close();
  });

  it("when the inbox stays full past the deadline, the reply is dropped, logged and counted", async () => {
    const layer = make();
    const warnings: string[] = [];
    const server = createRpcServer({ layer, service: "inbox", logger: { warn: (_o: object, msg: string) => warnings.push(msg), error: () => {} } }).handle(pingV1, async () => ({ pong: true as const }));
    server.start();
    const inbox = await layer.newChannel("rpc");
    await layer.send(inbox, { filler: true });
    await layer.send("inbox.rpc", request(inbox, 300));
    await waitFor(() => server.repliesDropped === 1, { what: "the dropped reply counted" });
    expect(warnings).toEqual(["RPC reply dropped"]);
    await server.stop();
    await layer.close();
  });
});
