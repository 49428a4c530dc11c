// The queueing under every group commit: waiting for company when a key is hot, never when it is quiet.
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { createGroupCommit, physicalExecutorOf, type GroupWait } from "../src/group-commit.ts";

interface Req {
  name: string;
  resolve(): void;
  reject(error: unknown): void;
}

function harness() {
  const batches: string[][] = [];
  const group = createGroupCommit<string, Req>(async (batch) => {
    batches.push(batch.map((r) => r.name));
    await sleep(1); // a transaction takes a little while
    for (const r of batch) r.resolve();
  });
  const owner = {};
  const call = (key: string, name: string, max: number, wait?: GroupWait) =>
    new Promise<void>((resolve, reject) => group.enqueue(owner, key, { name, resolve, reject }, max, wait));
  return { batches, call };
}

/** A first request, then three more spread out by `gapMs` (each finding the lane idle). */
async function spreadOut(call: ReturnType<typeof harness>["call"], wait: GroupWait | undefined, gapMs: number): Promise<void> {
  const done = [call("k", "a", 64, wait)];
  await done[0];
  for (const name of ["b", "c", "d"]) {
    await sleep(gapMs);
    done.push(call("k", name, 64, wait));
  }
  await Promise.all(done);
}

describe("group commit: waiting for company", () => {
  it("when a key is quiet, its first request runs at once, without waiting", async () => {
    const { batches, call } = harness();
    const wait = { ms: 10_000, hotMs: 10_000 };
    const first = call("quiet", "a", 64, wait);
    // Started in the same tick as the call: no timer stood in between.
    expect(batches).toEqual([["a"]]);
    await first;
    // Another quiet key: the same.
    const other = call("also-quiet", "x", 64, wait);
    expect(batches).toEqual([["a"], ["x"]]);
    await other;
  });

  it("when requests of a hot key arrive spread out, they share transactions; with no wait each runs alone", async () => {
    const off = harness();
    await spreadOut(off.call, undefined, 10);
    expect(off.batches).toEqual([["a"], ["b"], ["c"], ["d"]]);

    const on = harness();
    await spreadOut(on.call, { ms: 100, hotMs: 1000 }, 10);
    // "a" ran alone at once (the key was quiet); "b" arrived while the key was hot and waited for company.
    expect(on.batches[0]).toEqual(["a"]);
    expect(on.batches.length).toBeLessThan(4);
    expect(on.batches.flat()).toEqual(["a", "b", "c", "d"]);
  });

  it("when the key went quiet again (nothing within hotMs), the next request runs at once", async () => {
    const { batches, call } = harness();
    const wait = { ms: 10_000, hotMs: 20 };
    await call("k", "a", 64, wait);
    await sleep(60);
    const late = call("k", "b", 64, wait);
    expect(batches).toEqual([["a"], ["b"]]);
    await late;
  });

  it("when a full batch has queued, it starts without waiting out the bound", async () => {
    const { batches, call } = harness();
    const wait = { ms: 10_000, hotMs: 10_000 };
    await call("k", "a", 3, wait);
    const started = performance.now();
    await Promise.all([call("k", "b", 3, wait), call("k", "c", 3, wait), call("k", "d", 3, wait)]);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(batches).toEqual([["a"], ["b", "c", "d"]]);
  });
});

describe("physicalExecutorOf", () => {
  const all = [{ shard: "shard-0" }, { shard: "shard-1" }];
  it("finds the executor of the physical shard a routed executor names; none when it cannot say or names none", () => {
    expect(physicalExecutorOf({ shard: "shard-1" }, all)).toBe(all[1]);
    expect(physicalExecutorOf({ shard: "shard-9" }, all)).toBeUndefined();
    const moving = { get shard(): string { throw new Error("moved"); } };
    expect(physicalExecutorOf(moving, all)).toBeUndefined();
  });
});
