// What only the Redis backend has to show: placement across several hosts, one stored message
// per member process, encryption with key rotation, a prefix-scoped flush, and recovery from a
// Redis restart with the same layer object.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { Redis } from "ioredis";
import { requireRedis, uniqueName, waitFor } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BusUnavailableError,
  ChannelFullError,
  createChannelLayer,
  createRedisChannelLayer,
  InvalidOptionError,
  ReceiveTimeoutError,
} from "../src/index.ts";
import type { ChannelLayer, ChannelLayerOptions } from "../src/index.ts";

const redis = await requireRedis();
const base = redis.url.replace(/\/\d*$/, "");
const tenHosts = Array.from({ length: 10 }, (_, db) => `${base}/${db}`);
const prefix = uniqueName("cl_backend");

describe.skipIf(!redis.available)(`Redis channel layer backend (${redis.reason || redis.url})`, { timeout: 30_000 }, () => {
  const layers: ChannelLayer[] = [];
  let raw: Redis[] = [];
  beforeAll(() => {
    raw = tenHosts.map((url) => new Redis(url));
  });
  const layer = (options: ChannelLayerOptions & { hosts?: string[] } = {}) => {
    const created = createRedisChannelLayer({ prefix, hosts: tenHosts, ...options });
    layers.push(created);
    return created;
  };
  afterAll(async () => {
    await layers[0]?.flush().catch(() => {});
    for (const l of layers) await l.close();
    for (const r of raw) r.disconnect();
  });

  async function hostsHolding(key: string): Promise<number[]> {
    const found: number[] = [];
    for (const [db, r] of raw.entries()) if (await r.exists(key)) found.push(db);
    return found;
  }

  it("when there are ten hosts, a process-local channel's inbox lives on one host and its messages arrive", async () => {
    const sender = layer();
    const receiver = layer();
    const channel = await receiver.newChannel("reply");
    await sender.send(channel, { n: 1 });
    const nonLocal = channel.slice(0, channel.indexOf("!") + 1);
    expect(await hostsHolding(`${prefix}:p:${nonLocal}`)).toHaveLength(1);
    expect(await receiver.receive(channel, { timeoutMs: 5000 })).toEqual({ n: 1 });
    // Many channels of the same process: all land on that one host and all arrive.
    const more = await Promise.all(Array.from({ length: 20 }, () => receiver.newChannel("reply")));
    for (const [i, ch] of more.entries()) await sender.send(ch, { i });
    for (const [i, ch] of more.entries()) expect(await receiver.receive(ch, { timeoutMs: 5000 })).toEqual({ i });
  });

  it("when a group spans three processes on ten hosts, every member receives and each process stores one message", async () => {
    const processes = [layer(), layer(), layer()];
    const group = uniqueName("grp");
    const members: Array<[ChannelLayer, string]> = [];
    for (const p of processes) {
      for (let i = 0; i < 3; i++) {
        const ch = await p.newChannel();
        members.push([p, ch]);
        await processes[0].groupAdd(group, ch);
      }
    }
    const normal = uniqueName("plain");
    await processes[1].groupAdd(group, normal);
    await processes[2].groupSend(group, { seat: "B7" });
    for (const [p] of [[processes[0]], [processes[1]], [processes[2]]] as const) {
      const ch = members.find(([owner]) => owner === p)![1];
      const key = `${prefix}:p:${ch.slice(0, ch.indexOf("!") + 1)}`;
      const [db] = await hostsHolding(key);
      expect(await raw[db].llen(key)).toBe(1);
    }
    for (const [p, ch] of members) expect(await p.receive(ch, { timeoutMs: 5000 })).toEqual({ seat: "B7" });
    expect(await processes[0].receive(normal, { timeoutMs: 5000 })).toEqual({ seat: "B7" });
  });

  it("when 50 senders in two processes race into capacity 10, exactly 10 are accepted", async () => {
    const a = layer({ capacity: 10 });
    const b = layer({ capacity: 10 });
    const channel = uniqueName("race2");
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).send(channel, { i })));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(10);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(ChannelFullError);
  });

  it("when five processes send one message at a time into one inbox of capacity 10, exactly 10 of 50 are accepted, each sender's in order", async () => {
    const reader = layer({ capacity: 10 });
    const inbox = await reader.newChannel();
    const senders = Array.from({ length: 5 }, () => layer({ capacity: 10 }));
    const accepted: Array<{ s: number; n: number }> = [];
    await Promise.all(
      senders.map(async (sender, s) => {
        for (let n = 0; n < 10; n++) {
          // One send per tick: each leaves alone, the way a server's reply to a waiting caller does.
          const sent = await sender.send(inbox, { s, n }).then(() => true, (error: unknown) => (expect(error).toBeInstanceOf(ChannelFullError), false));
          if (sent) accepted.push({ s, n });
        }
      }),
    );
    expect(accepted).toHaveLength(10);
    const got = [];
    for (let i = 0; i < 10; i++) got.push(await reader.receive(inbox, { timeoutMs: 5000 }));
    await expect(reader.receive(inbox, { timeoutMs: 100 })).rejects.toBeInstanceOf(ReceiveTimeoutError);
    for (let s = 0; s < 5; s++) {
      const mine = got.filter((m) => m.s === s).map((m) => m.n);
      expect(mine, `sender ${s}'s messages in the order received`).toEqual(accepted.filter((a) => a.s === s).map((a) => a.n));
    }
  });

  it("when two processes configure different capacities for one inbox, the one with less never drops what the other stored", async () => {
    const reader = layer({ capacity: 5 });
    const inbox = await reader.newChannel();
    const roomy = layer({ capacity: 5 });
    const tight = layer({ capacity: 2 });
    for (let n = 1; n <= 4; n++) await roomy.send(inbox, { n });
    // The inbox already holds more than `tight` allows: its send is refused and takes nothing else with it.
    await expect(tight.send(inbox, { n: "tight" })).rejects.toBeInstanceOf(ChannelFullError);
    const got = [];
    for (let i = 0; i < 4; i++) got.push((await reader.receive(inbox, { timeoutMs: 5000 })).n);
    expect(got).toEqual([1, 2, 3, 4]);
    await expect(reader.receive(inbox, { timeoutMs: 100 })).rejects.toBeInstanceOf(ReceiveTimeoutError);
    // And from then on `tight` sends to inboxes through the script, which never cuts another's frames.
    await roomy.send(inbox, { n: 5 });
    await roomy.send(inbox, { n: 6 });
    await roomy.send(inbox, { n: 7 });
    await expect(tight.send(inbox, { n: "tight" })).rejects.toBeInstanceOf(ChannelFullError);
    for (const n of [5, 6, 7]) expect((await reader.receive(inbox, { timeoutMs: 5000 })).n).toBe(n);
  });

  it("when payloads are encrypted, they are unreadable in Redis, old keys still decrypt, and a stranger's key drops them", async () => {
    const single = [redis.url];
    const oldWriter = layer({ hosts: single, symmetricEncryptionKeys: ["old-secret"] });
    const rotated = layer({ hosts: single, symmetricEncryptionKeys: ["new-secret", "old-secret"] });
    const stranger = layer({ hosts: single, symmetricEncryptionKeys: ["other"] });
    const channel = uniqueName("secret");
    await oldWriter.send(channel, { card: "4242-visible-text" });
    const inspector = new Redis(redis.url);
    const stored = await inspector.lrangeBuffer(`${prefix}:c:${channel}`, 0, -1).finally(() => inspector.disconnect());
    expect(stored).toHaveLength(1);
    expect(stored[0].includes("4242-visible-text")).toBe(false);
    expect(await rotated.receive(channel, { timeoutMs: 5000 })).toEqual({ card: "4242-visible-text" });
    await rotated.send(channel, { n: 2 });
    await expect(stranger.receive(channel, { timeoutMs: 500 })).rejects.toBeInstanceOf(ReceiveTimeoutError);
    expect(stranger.stats?.undecodableDropped).toBe(1);
  });

  it("when flush runs, only keys under the layer's own prefix are deleted", async () => {
    const mine = layer({ hosts: [redis.url], prefix: uniqueName("mine") });
    const theirs = layer({ hosts: [redis.url], prefix: uniqueName("theirs") });
    await mine.send("box", { n: 1 });
    await theirs.send("box", { n: 2 });
    await mine.groupAdd("g", "box");
    await mine.flush();
    await expect(mine.receive("box", { timeoutMs: 200 })).rejects.toBeInstanceOf(ReceiveTimeoutError);
    expect(await theirs.receive("box", { timeoutMs: 5000 })).toEqual({ n: 2 });
  });

  it("when hosts are not redis URLs, creation fails with InvalidOptionError naming the host", () => {
    expect(() => createRedisChannelLayer({ hosts: [] })).toThrow(/hosts/);
    const error = (() => {
      try {
        createChannelLayer("redis://127.0.0.1:6379/0,http://x");
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).field).toBe("hosts[1]");
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

describe.skipIf(!redis.available)("Redis channel layer when its own Redis restarts", { timeout: 60_000 }, () => {
  let server: ChildProcess | undefined;
  afterAll(() => {
    server?.kill("SIGKILL");
  });

  async function startRedis(port: number): Promise<void> {
    server = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    const probe = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on("error", () => {});
    await waitFor(async () => {
      try {
        if (probe.status !== "ready") await probe.connect();
        return (await probe.ping()) === "PONG";
      } catch {
        probe.disconnect();
        return false;
      }
    }, { what: `redis-server on port ${port}` });
    probe.disconnect();
  }

  async function stopRedis(): Promise<void> {
    const child = server!;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    server = undefined;
  }

  it("when Redis stops answering (its process paused), sends and receives fail with BusUnavailableError instead of hanging, and traffic resumes when it answers again", async () => {
    const port = await freePort();
    await startRedis(port);
    const l = createRedisChannelLayer({ hosts: [`redis://127.0.0.1:${port}/0`], prefix: uniqueName("hung") });
    try {
      const local = await l.newChannel();
      await l.send("orders", { before: true });
      expect(await l.receive("orders", { timeoutMs: 5000 })).toEqual({ before: true });
      const waiting = l.receive(local, { timeoutMs: 30_000 }).then(() => undefined, (e: unknown) => e);
      server!.kill("SIGSTOP");
      try {
        const sent = await l.send("orders", { hung: true }).then(() => undefined, (e: unknown) => e);
        expect(sent, "a send to a Redis that does not answer").toBeInstanceOf(BusUnavailableError);
        expect(await waiting, "a receive waiting on a Redis that does not answer").toBeInstanceOf(BusUnavailableError);
      } finally {
        server!.kill("SIGCONT");
      }
      await waitFor(() => l.send("orders", { back: true }).then(() => true, () => false), { timeoutMs: 15_000, what: "sends to succeed again" });
      const back = [];
      // The send made while Redis was paused may have been stored after all: the layer only knows it got no answer.
      for (let m = await l.receive("orders", { timeoutMs: 5000 }); ; m = await l.receive("orders", { timeoutMs: 5000 })) {
        back.push(m);
        if ((m as { back?: boolean }).back) break;
      }
      expect(back.at(-1)).toEqual({ back: true });
    } finally {
      await l.close();
      await stopRedis();
    }
  });

  it("when Redis dies mid-traffic, operations fail fast with BusUnavailableError, and traffic resumes after it restarts", async () => {
    const port = await freePort();
    await startRedis(port);
    const l = createRedisChannelLayer({ hosts: [`redis://127.0.0.1:${port}/0`], prefix: uniqueName("restart") });
    try {
      const local = await l.newChannel();
      for (let i = 0; i < 20; i++) await l.send("orders", { i });
      for (let i = 0; i < 20; i++) expect(await l.receive("orders", { timeoutMs: 5000 })).toEqual({ i });
      // Settled into values at once: they reject while Redis is being killed, before we look.
      const waiting = l.receive(local, { timeoutMs: 30_000 }).then(() => undefined, (e: unknown) => e);
      const waitingNormal = l.receive("orders", { timeoutMs: 30_000 }).then(() => undefined, (e: unknown) => e);

      await stopRedis();
      expect(await waiting).toBeInstanceOf(BusUnavailableError);
      expect(await waitingNormal).toBeInstanceOf(BusUnavailableError);
      for (const op of [
        () => l.send("orders", { down: true }),
        () => l.send(local, { down: true }),
        () => l.receive("orders", { timeoutMs: 10_000 }),
        () => l.groupAdd("watchers", local),
        () => l.groupSend("watchers", { down: true }),
      ]) {
        const started = Date.now();
        const error = await op().then(() => undefined, (e: unknown) => e);
        expect(error).toBeInstanceOf(BusUnavailableError);
        expect((error as BusUnavailableError).code).toBe("BUS_UNAVAILABLE");
        expect(Date.now() - started, "an operation against a dead Redis must fail within 1 s").toBeLessThan(1000);
      }

      await startRedis(port);
      await waitFor(() => l.send("orders", { back: true }).then(() => true, () => false), { timeoutMs: 15_000, what: "sends to succeed again" });
      expect(await l.receive("orders", { timeoutMs: 5000 })).toEqual({ back: true });
      await l.groupAdd("watchers", local);
      await l.groupSend("watchers", { seat: "C3" });
      expect(await l.receive(local, { timeoutMs: 5000 })).toEqual({ seat: "C3" });
    } finally {
      await l.close();
    }
  });
});
