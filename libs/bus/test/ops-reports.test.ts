// The operator console's arithmetic: rates from two cumulative reports, percentiles from the
// latency histogram, gone instances kept but not counted.
import { describe, expect, it } from "vitest";
import { quantileFromBuckets, RPC_LATENCY_BUCKETS_MS, summariseOpsReports, type OpsReport } from "../src/index.ts";

function report(instance: string, sentAt: number, calls: number, buckets: number[]): OpsReport {
  const latencyBuckets = new Array<number>(RPC_LATENCY_BUCKETS_MS.length + 1).fill(0);
  buckets.forEach((count, i) => (latencyBuckets[i] = count));
  return {
    service: "inventory", instance, startedAt: new Date(0).toISOString(), sentAt, inFlight: 1, handled: calls, errors: 0,
    methods: { "inventory.hold.v1": { calls, errors: 0, latencyBuckets } }, channels: [{ name: "inventory.rpc", depth: 3, capacity: 100 }],
    shards: [{ shard: "shard0", logicalShards: [[0, 4095]], reachable: true, replicas: 0 }],
  };
}

describe("ops report summaries", () => {
  it("when 100 calls fall in the 5 ms bucket and one in the 500 ms bucket, p50 is 5 ms and p99 is 5 ms; with 2 slow of 100, p99 is 500 ms", () => {
    expect(quantileFromBuckets([0, 0, 100, 0, 0, 0, 0, 0, 1], 0.5)).toBe(5);
    expect(quantileFromBuckets([0, 0, 100, 0, 0, 0, 0, 0, 1], 0.99)).toBe(5);
    expect(quantileFromBuckets([0, 0, 98, 0, 0, 0, 0, 0, 2], 0.99)).toBe(500);
    expect(quantileFromBuckets([], 0.5)).toBeNull();
  });

  it("when an instance's reports 10 s apart differ by 50 calls, it handles 5 per second; a silent instance is gone and adds nothing", () => {
    const now = 100_000;
    const histories = new Map([
      ["a", [{ receivedAt: now - 10_000, report: report("a", now - 10_000, 100, [0, 0, 100]) }, { receivedAt: now, report: report("a", now, 150, [0, 0, 150]) }]],
      ["b", [{ receivedAt: now - 20_000, report: report("b", now - 20_000, 10, [0, 0, 10]) }]],
    ]);
    const summary = summariseOpsReports(histories, now, { goneAfterMs: 6000, windowMs: 60_000 });
    expect(summary.instances.map((i) => [i.instance, i.gone, i.handledPerSecond])).toEqual([["a", false, 5], ["b", true, 0]]);
    expect(summary.methods).toEqual([{ method: "inventory.hold.v1", callsPerSecond: 5, p50Ms: 5, p99Ms: 5, errorsPerSecond: 0 }]);
    expect(summary.channels).toEqual([{ name: "inventory.rpc", depth: 3, capacity: 100 }]);
  });
});
