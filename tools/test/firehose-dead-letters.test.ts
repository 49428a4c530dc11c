// `npm run firehose`: dead letters listed and replayed on a real Redis, and the operator's gauges
// (dead letters, consumer-group lag) read from the same streams the services use.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { createRedisFirehose } from "@boxoffice/bus";
import { Redis } from "ioredis";
import { redisUrl, requireRedis, uniqueName, waitFor } from "@boxoffice/testkit";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const redis = await requireRedis();
const TOOL = join(import.meta.dirname, "..", "firehose.ts");

describe.skipIf(!redis.available)("npm run firehose (Redis)", () => {
  it("when a consumer gives up on an event, dead-letters lists it, replay puts it back and the fixed consumer handles it once; stats show the counts", async () => {
    const prefix = uniqueName("fh_admin");
    const env = { ...process.env, FIREHOSE_URL: redisUrl(), BUS_PREFIX: prefix };
    const tool = async (...args: string[]) => (await run(process.execPath, [TOOL, ...args], { env })).stdout;
    const firehose = createRedisFirehose({ url: redisUrl(), prefix });
    let broken = true;
    const handled: string[] = [];
    const consumer = firehose.consume("payments", { group: "recovery", consumer: "c1", maxAttempts: 1, visibilityTimeoutMs: 200 }, async (event) => {
      if (broken) throw new Error("handler bug");
      handled.push(event.id);
    });
    await consumer.ready;
    await firehose.publish("payments", { type: "payment.captured.v1", version: 1, key: "buyer-1", data: { paymentId: "7" }, id: "payment.captured:7" });
    await waitFor(async () => (await tool("dead-letters", "payments")).includes("1 dead letter(s)"), { what: "the event in the dead letters" });
    const listed = await tool("dead-letters", "payments");
    expect(listed).toMatch(/payment\.captured\.v1 {2}id=payment\.captured:7 {2}key=buyer-1 {2}group=recovery {2}attempts=1 {2}handler failed/);
    expect(await tool("stats", "payments", "--prom")).toContain(`boxoffice_firehose_dead_letters{stream="payments"} 1`);

    broken = false;
    expect(await tool("replay", "payments")).toContain("replayed 1 dead letter(s) into payments");
    await waitFor(() => handled.length > 0, { what: "the replayed event handled" });
    expect(handled).toEqual(["payment.captured:7"]);
    expect(await tool("dead-letters", "payments")).toContain("0 dead letter(s)");
    const prom = await tool("stats", "payments", "--prom");
    expect(prom).toContain(`boxoffice_firehose_dead_letters{stream="payments"} 0`);
    expect(prom).toMatch(/boxoffice_firehose_group_lag\{stream="payments",group="recovery"\} 0/);
    await consumer.close();
    await firehose.close();
    const client = new Redis(redisUrl());
    const keys = await client.keys(`${prefix}:*`);
    if (keys.length) await client.del(...keys);
    client.disconnect();
  });

  it("when the command is wrong, it prints the usage and exits 1", async () => {
    const failed = await run(process.execPath, [TOOL, "replay"], { env: process.env }).then(
      () => ({ code: 0, stdout: "" }),
      (error: { code: number; stdout: string }) => error,
    );
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain("usage: npm run firehose -- dead-letters <stream>");
  });
});
