// The behaviours every channel-layer backend must show (shared/reference/channel-layer.md, last
// section), written once and registered against each backend by its own test file.
import { afterEach, describe, expect, it } from "vitest";
import {
  BusUnavailableError,
  ChannelFullError,
  InvalidChannelNameError,
  InvalidMessageError,
  InvalidOptionError,
  MessageTooLargeError,
  ReceiveTimeoutError,
} from "../../src/index.ts";
import type { ChannelLayer, ChannelLayerOptions, Message } from "../../src/index.ts";

export interface ConformanceTarget {
  /** Shown in the describe title. */
  readonly name: string;
  /** A new layer instance on this target's backend (same backend for every call within a file). */
  create(options?: ChannelLayerOptions): ChannelLayer;
}

let counter = 0;
/** A channel name no other test in the run uses. */
function fresh(kind: string): string {
  counter += 1;
  return `${kind}.${process.pid}.${Date.now().toString(36)}.${counter}`;
}

const elapse = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** "stored", or what the send failed with (taken at once, so a send refused before the next is issued is no unhandled rejection). */
const outcomeOf = (send: Promise<void>): Promise<unknown> => send.then(() => "stored", (error: unknown) => error);

async function expectRejects(promise: Promise<unknown>, type: new (...args: never[]) => Error): Promise<void> {
  await expect(promise).rejects.toBeInstanceOf(type);
}

export function channelLayerConformance(target: ConformanceTarget): void {
  describe(`channel layer conformance: ${target.name}`, { timeout: 30_000 }, () => {
    const open: ChannelLayer[] = [];
    const layer = (options?: ChannelLayerOptions): ChannelLayer => {
      const created = target.create(options);
      open.push(created);
      return created;
    };
    afterEach(async () => {
      for (const created of open.splice(0)) {
        await created.flush().catch(() => {});
        await created.close();
      }
    });

    it("advertises the groups and flush extensions", () => {
      expect(layer().extensions).toEqual(expect.arrayContaining(["groups", "flush"]));
    });

    it("when messages wait on a channel, depth counts them against the channel's capacity", async () => {
      const l = layer();
      const channel = fresh("depth");
      expect(await l.depth!(channel)).toEqual({ depth: 0, capacity: 100 });
      await l.send(channel, { n: 1 });
      await l.send(channel, { n: 2 });
      expect(await l.depth!(channel)).toEqual({ depth: 2, capacity: 100 });
      await l.receive(channel, { timeoutMs: 5000 });
      expect((await l.depth!(channel)).depth).toBe(1);
    });

    it("when a message is sent, a receive on that channel returns it", async () => {
      const l = layer();
      const channel = fresh("round-trip");
      await l.send(channel, { type: "hello", n: 1 });
      expect(await l.receive(channel, { timeoutMs: 5000 })).toEqual({ type: "hello", n: 1 });
    });

    it("when three messages are sent, they are received in the order sent", async () => {
      const l = layer();
      const channel = fresh("fifo");
      for (const n of [1, 2, 3]) await l.send(channel, { n });
      const got = [];
      for (let i = 0; i < 3; i++) got.push((await l.receive(channel, { timeoutMs: 5000 })).n);
      expect(got).toEqual([1, 2, 3]);
    });

    it("when a channel of capacity 3 holds three messages, the fourth send fails with ChannelFullError", async () => {
      const l = layer({ capacity: 3 });
      const channel = fresh("cap");
      for (const n of [1, 2, 3]) await l.send(channel, { n });
      const error = await l.send(channel, { n: 4 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ChannelFullError);
      expect((error as ChannelFullError).code).toBe("CHANNEL_FULL");
      expect((await l.receive(channel, { timeoutMs: 5000 })).n).toBe(1);
      await l.send(channel, { n: 4 });
    });

    // Sends issued in one tick may travel together (the Redis layer makes one script call of them);
    // per message the rules stay those of separate sends, in the order they were issued.
    it("when sends issued in one tick overflow a channel, exactly the ones past its capacity are refused and the rest arrive in order", async () => {
      const l = layer({ capacity: 3 });
      const channel = fresh("batch-cap");
      await l.send(channel, { n: 0 });
      const results = await Promise.allSettled([1, 2, 3, 4, 5].map((n) => l.send(channel, { n })));
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "rejected", "rejected"]);
      for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(ChannelFullError);
      const got = [];
      for (let i = 0; i < 3; i++) got.push((await l.receive(channel, { timeoutMs: 5000 })).n);
      expect(got).toEqual([0, 1, 2]);
      await expectRejects(l.receive(channel, { timeoutMs: 200 }), ReceiveTimeoutError);
    });

    it("when one tick sends to several channels and one inbox, each refuses only its own overflow and keeps its order", async () => {
      const l = layer({ capacity: 2 });
      const [a, b] = [fresh("batch-a"), fresh("batch-b")];
      const [x, y] = [await l.newChannel(), await l.newChannel()];
      const sends: Array<[string, number]> = [[a, 1], [b, 1], [x, 1], [a, 2], [y, 1], [a, 3], [b, 2], [x, 2]];
      const results = await Promise.allSettled(sends.map(([channel, n]) => l.send(channel, { n })));
      // a takes two of three; b both; x and y share the inbox's capacity 2, so x's second is refused.
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "fulfilled", "fulfilled", "rejected", "fulfilled", "rejected"]);
      for (const [channel, expected] of [[a, [1, 2]], [b, [1, 2]], [x, [1]], [y, [1]]] as const) {
        const got = [];
        for (let i = 0; i < expected.length; i++) got.push((await l.receive(channel, { timeoutMs: 5000 })).n);
        expect(got, `messages on ${channel}`).toEqual(expected);
        await expectRejects(l.receive(channel, { timeoutMs: 100 }), ReceiveTimeoutError);
      }
    });

    it("when group sends and direct sends race into one inbox, it holds exactly its capacity: the group skips, the sends fail", async () => {
      const l = layer({ capacity: 2 });
      const group = fresh("batch-grp");
      const member = await l.newChannel();
      await l.groupAdd(group, member);
      const direct = [l.send(member, { n: 1 }), l.send(member, { n: 4 })];
      const viaGroup = [l.groupSend(group, { n: 2 }), l.groupSend(group, { n: 3 })];
      const directResults = await Promise.allSettled(direct);
      await Promise.all(viaGroup); // a group send never fails for a full member
      const directAccepted = directResults.filter((r) => r.status === "fulfilled").length;
      for (const r of directResults) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(ChannelFullError);
      expect(directAccepted + (2 - l.stats!.groupSendSkippedFull)).toBe(2);
      await l.receive(member, { timeoutMs: 5000 });
      await l.receive(member, { timeoutMs: 5000 });
      await expectRejects(l.receive(member, { timeoutMs: 100 }), ReceiveTimeoutError);
    });

    it("when expired messages fill a channel, sends issued in one tick get their room in order and only the overflow is refused", async () => {
      const l = layer({ capacity: 2, expirySeconds: 1 });
      const channel = fresh("batch-expiry");
      await Promise.all([l.send(channel, { n: "old1" }), l.send(channel, { n: "old2" })]);
      await elapse(1200); // the behaviour under test is the passing of time itself
      const results = await Promise.allSettled([1, 2, 3].map((n) => l.send(channel, { n })));
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
      expect((await l.receive(channel, { timeoutMs: 5000 })).n).toBe(1);
      expect((await l.receive(channel, { timeoutMs: 5000 })).n).toBe(2);
      await expectRejects(l.receive(channel, { timeoutMs: 100 }), ReceiveTimeoutError);
    });

    it("when sends to a process-local channel leave one per tick, it takes exactly its capacity, in order, and refuses the rest", async () => {
      const l = layer({ capacity: 3 });
      const inbox = await l.newChannel();
      const sends: Array<Promise<unknown>> = [];
      for (let n = 1; n <= 5; n++) {
        sends.push(outcomeOf(l.send(inbox, { n })));
        await new Promise((resolve) => setImmediate(resolve)); // the next send in a later tick, the first still unanswered
      }
      const results = await Promise.all(sends);
      expect(results.slice(0, 3)).toEqual(["stored", "stored", "stored"]);
      for (const r of results.slice(3)) expect(r).toBeInstanceOf(ChannelFullError);
      const got = [];
      for (let i = 0; i < 3; i++) got.push((await l.receive(inbox, { timeoutMs: 5000 })).n);
      expect(got).toEqual([1, 2, 3]);
      await expectRejects(l.receive(inbox, { timeoutMs: 100 }), ReceiveTimeoutError);
    });

    it("when expired messages fill a process-local channel, sends leaving one per tick get their room in order and only the overflow is refused", async () => {
      const l = layer({ capacity: 2, expirySeconds: 1 });
      const inbox = await l.newChannel();
      await l.send(inbox, { n: "old1" });
      await l.send(inbox, { n: "old2" });
      await elapse(1200); // the behaviour under test is the passing of time itself
      const sends: Array<Promise<unknown>> = [];
      for (let n = 1; n <= 3; n++) {
        sends.push(outcomeOf(l.send(inbox, { n })));
        await new Promise((resolve) => setImmediate(resolve));
      }
      const results = await Promise.all(sends);
      expect(results.slice(0, 2)).toEqual(["stored", "stored"]);
      expect(results[2]).toBeInstanceOf(ChannelFullError);
      expect((await l.receive(inbox, { timeoutMs: 5000 })).n).toBe(1);
      expect((await l.receive(inbox, { timeoutMs: 5000 })).n).toBe(2);
      await expectRejects(l.receive(inbox, { timeoutMs: 100 }), ReceiveTimeoutError);
    });

    it.each(["normal", "process-local"])("when messages wait on a %s channel, receiveMany returns up to max of them oldest first and leaves the rest", async (kind) => {
      const l = layer();
      expect(l.extensions).toContain("receiveMany");
      const channel = kind === "normal" ? fresh("many") : await l.newChannel();
      for (let n = 0; n < 5; n++) await l.send(channel, { n });
      expect((await l.receiveMany!(channel, { max: 3, timeoutMs: 5000 })).map((m) => m.n)).toEqual([0, 1, 2]);
      expect((await l.receiveMany!(channel, { max: 10, timeoutMs: 5000 })).map((m) => m.n)).toEqual([3, 4]);
      const waiting = l.receiveMany!(channel, { max: 10, timeoutMs: 5000 });
      await new Promise((r) => setTimeout(r, 20));
      await l.send(channel, { n: 5 });
      expect(await waiting).toEqual([{ n: 5 }]);
      await expectRejects(l.receiveMany!(channel, { max: 10, timeoutMs: 100 }), ReceiveTimeoutError);
      const error = await l.receiveMany!(channel, { max: 0 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).field).toBe("max");
    });

    it("when channelCapacity is [['tiny*', 1]], tiny channels hold one message and others the default", async () => {
      const l = layer({ capacity: 5, channelCapacity: [["tiny*", 1], [/^regex-/, 2]] });
      const tiny = fresh("tiny");
      const regex = fresh("regex-x");
      const other = fresh("other");
      await l.send(tiny, { n: 1 });
      await expectRejects(l.send(tiny, { n: 2 }), ChannelFullError);
      await l.send(regex, { n: 1 });
      await l.send(regex, { n: 2 });
      await expectRejects(l.send(regex, { n: 3 }), ChannelFullError);
      for (let n = 0; n < 5; n++) await l.send(other, { n });
      await expectRejects(l.send(other, { n: 5 }), ChannelFullError);
    });

    it("when a process-local channel is created, it round-trips, and a foreign `!` channel cannot be received on", async () => {
      const l = layer();
      const channel = await l.newChannel();
      expect(channel).toMatch(/^specific\.[A-Za-z0-9_-]+![A-Za-z0-9._-]+$/);
      await l.send(channel, { reply: true });
      expect(await l.receive(channel, { timeoutMs: 5000 })).toEqual({ reply: true });
      await expectRejects(l.receive("specific.someoneelse!abc", { timeoutMs: 100 }), InvalidChannelNameError);
      const other = layer();
      await expectRejects(l.receive(await other.newChannel("inbox"), { timeoutMs: 100 }), InvalidChannelNameError);
    });

    it("when newChannel is called many times, names carry the prefix and never repeat", async () => {
      const l = layer();
      const names = new Set<string>();
      for (let i = 0; i < 500; i++) names.add(await l.newChannel("rpc-reply"));
      expect(names.size).toBe(500);
      for (const name of names) expect(name.startsWith("rpc-reply.")).toBe(true);
      await expectRejects(l.newChannel("bad!prefix"), InvalidChannelNameError);
    });

    it("when names are malformed, send, receive and every group call reject them with InvalidChannelNameError", async () => {
      const l = layer();
      const badChannels = ["", "has space", "ünïcode", "a!b!c", "!local", "semi;colon", 42 as unknown as string];
      for (const bad of badChannels) {
        await expectRejects(l.send(bad, { x: 1 }), InvalidChannelNameError);
        await expectRejects(l.receive(bad, { timeoutMs: 10 }), InvalidChannelNameError);
        await expectRejects(l.groupAdd("good", bad), InvalidChannelNameError);
        await expectRejects(l.groupDiscard("good", bad), InvalidChannelNameError);
      }
      for (const bad of ["", "has space", "group!x", "ünïcode"]) {
        await expectRejects(l.groupAdd(bad, "good"), InvalidChannelNameError);
        await expectRejects(l.groupDiscard(bad, "good"), InvalidChannelNameError);
        await expectRejects(l.groupSend(bad, { x: 1 }), InvalidChannelNameError);
      }
      const error = await l.send("has space", {}).catch((e: unknown) => e);
      expect((error as InvalidChannelNameError).code).toBe("INVALID_CHANNEL_NAME");
      expect(error).toBeInstanceOf(TypeError);
    });

    it("when a name has 99 characters it works, and with 100 it is rejected", async () => {
      const l = layer();
      const base = fresh("n");
      const ok = base + "x".repeat(99 - base.length);
      const tooLong = ok + "x";
      expect(ok).toHaveLength(99);
      await l.send(ok, { ok: true });
      expect(await l.receive(ok, { timeoutMs: 5000 })).toEqual({ ok: true });
      await l.groupAdd(ok, ok);
      await expectRejects(l.send(tooLong, {}), InvalidChannelNameError);
      await expectRejects(l.receive(tooLong, { timeoutMs: 10 }), InvalidChannelNameError);
      await expectRejects(l.groupAdd(tooLong, ok), InvalidChannelNameError);
      await expectRejects(l.groupSend(tooLong, {}), InvalidChannelNameError);
    });

    it("when a message or receive option is malformed, a typed error names the field", async () => {
      const l = layer();
      const channel = fresh("bad-input");
      for (const bad of [null, [], "text", 5, new Map()] as unknown as Message[]) {
        const error = await l.send(channel, bad).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidMessageError);
        expect((error as InvalidMessageError).field).toBe("message");
      }
      await expectRejects(l.groupSend("g", null as unknown as Message), InvalidMessageError);
      const error = await l.receive(channel, { timeoutMs: -1 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).field).toBe("timeoutMs");
      expect(() => target.create({ capacity: 0 })).toThrow(InvalidOptionError);
      expect(() => target.create({ expirySeconds: Number.NaN })).toThrow(/expirySeconds/);
    });

    it("when three channels join a group and one is discarded, a group send reaches the two and not the third", async () => {
      const l = layer();
      const group = fresh("grp");
      const [a, b, c] = [fresh("ga"), await l.newChannel(), fresh("gc")];
      for (const ch of [a, b, c]) await l.groupAdd(group, ch);
      await l.groupAdd(group, a); // idempotent
      await l.groupDiscard(group, c);
      await l.groupDiscard(group, fresh("never-added")); // no-op
      await l.groupSend(group, { hi: "all" });
      expect(await l.receive(a, { timeoutMs: 1000 })).toEqual({ hi: "all" });
      expect(await l.receive(b, { timeoutMs: 1000 })).toEqual({ hi: "all" });
      await expectRejects(l.receive(a, { timeoutMs: 200 }), ReceiveTimeoutError);
      await expectRejects(l.receive(c, { timeoutMs: 300 }), ReceiveTimeoutError);
    });

    it("when a group member is full, five group sends raise nothing and it gets exactly its capacity", async () => {
      const l = layer({ capacity: 3 });
      const group = fresh("full-grp");
      const member = fresh("full-member");
      const local = await l.newChannel();
      await l.groupAdd(group, member);
      await l.groupAdd(group, local);
      for (let n = 0; n < 5; n++) await l.groupSend(group, { n });
      for (const ch of [member, local]) {
        const got = [];
        for (let i = 0; i < 3; i++) got.push((await l.receive(ch, { timeoutMs: 5000 })).n);
        expect(got).toEqual([0, 1, 2]);
        await expectRejects(l.receive(ch, { timeoutMs: 200 }), ReceiveTimeoutError);
      }
      expect(l.stats?.groupSendSkippedFull).toBe(4);
    });

    it("when several members of one group live in one process, each gets its own copy", async () => {
      const l = layer();
      const group = fresh("many-local");
      const members = [await l.newChannel(), await l.newChannel(), await l.newChannel()];
      for (const m of members) await l.groupAdd(group, m);
      await l.groupSend(group, { seat: "A1" });
      await l.groupSend(group, { seat: "A2" });
      for (const m of members) {
        expect(await l.receive(m, { timeoutMs: 5000 })).toEqual({ seat: "A1" });
        expect(await l.receive(m, { timeoutMs: 5000 })).toEqual({ seat: "A2" });
      }
    });

    it("when members share a process, a group send costs one stored message: capacity 1 still reaches all three", async () => {
      const l = layer({ capacity: 1 });
      const group = fresh("cheap");
      const members = [await l.newChannel(), await l.newChannel(), await l.newChannel()];
      for (const m of members) await l.groupAdd(group, m);
      await l.groupSend(group, { n: 1 });
      for (const m of members) expect(await l.receive(m, { timeoutMs: 5000 })).toEqual({ n: 1 });
    });

    it("when process-local channels share a non-local part, they share one capacity", async () => {
      const l = layer({ capacity: 2 });
      const [a, b, c] = [await l.newChannel(), await l.newChannel(), await l.newChannel()];
      await l.send(a, { to: "a" });
      await l.send(b, { to: "b" });
      await expectRejects(l.send(c, { to: "c" }), ChannelFullError);
      expect(await l.receive(b, { timeoutMs: 5000 })).toEqual({ to: "b" });
      await l.send(c, { to: "c" });
      expect(await l.receive(c, { timeoutMs: 5000 })).toEqual({ to: "c" });
      expect(await l.receive(a, { timeoutMs: 5000 })).toEqual({ to: "a" });
    });

    it("when expiry is 1 s, a message left 2 s is gone, and messages younger than expiry all arrive in order", async () => {
      const l = layer({ expirySeconds: 1 });
      const channel = fresh("expiry");
      const local = await l.newChannel();
      await l.send(channel, { n: "old" });
      await l.send(local, { n: "old" });
      await elapse(2000); // the behaviour under test is the passing of time itself
      for (const n of [1, 2, 3]) {
        await l.send(channel, { n });
        await l.send(local, { n });
      }
      for (const ch of [channel, local]) {
        const got = [];
        for (let i = 0; i < 3; i++) got.push((await l.receive(ch, { timeoutMs: 5000 })).n);
        expect(got).toEqual([1, 2, 3]);
        await expectRejects(l.receive(ch, { timeoutMs: 200 }), ReceiveTimeoutError);
      }
    });

    it("when an expired message fills a channel, it no longer counts against capacity", async () => {
      const l = layer({ expirySeconds: 1, capacity: 1 });
      const channel = fresh("expiry-cap");
      await l.send(channel, { n: "old" });
      await elapse(1200);
      await l.send(channel, { n: "new" });
      expect(await l.receive(channel, { timeoutMs: 5000 })).toEqual({ n: "new" });
    });

    it("when one send at a time meets a full channel whose oldest message expired, that one makes room and live ones still count", async () => {
      const l = layer({ expirySeconds: 1, capacity: 2 });
      const channel = fresh("expiry-one");
      await l.send(channel, { n: "old" });
      await elapse(1200); // the behaviour under test is the passing of time itself
      await l.send(channel, { n: "live1" });
      await l.send(channel, { n: "live2" }); // the expired one gives way
      await expectRejects(l.send(channel, { n: "live3" }), ChannelFullError); // two live ones fill it
      expect((await l.receive(channel, { timeoutMs: 5000 })).n).toBe("live1");
      expect((await l.receive(channel, { timeoutMs: 5000 })).n).toBe("live2");
      await expectRejects(l.receive(channel, { timeoutMs: 100 }), ReceiveTimeoutError);
    });

    it("when group membership is older than groupExpirySeconds, the member no longer receives group sends", async () => {
      const l = layer({ groupExpirySeconds: 1 });
      const group = fresh("grp-exp");
      const stale = fresh("stale");
      const renewed = fresh("renewed");
      await l.groupAdd(group, stale);
      await l.groupAdd(group, renewed);
      await elapse(600);
      await l.groupAdd(group, renewed); // a later groupAdd restarts the membership's clock
      await elapse(600);
      await l.groupSend(group, { n: 1 });
      expect(await l.receive(renewed, { timeoutMs: 1000 })).toEqual({ n: 1 });
      await expectRejects(l.receive(stale, { timeoutMs: 300 }), ReceiveTimeoutError);
    });

    it("when the sender mutates a message after send, the receiver gets it as it was sent", async () => {
      const l = layer();
      const channel = fresh("mutate");
      const message = { list: [1, 2], nested: { a: "before" } };
      await l.send(channel, message);
      message.list.push(3);
      message.nested.a = "after";
      expect(await l.receive(channel, { timeoutMs: 5000 })).toEqual({ list: [1, 2], nested: { a: "before" } });
    });

    it("when a message is 1 MiB it round-trips, and at 2 MiB send fails with MessageTooLargeError", async () => {
      const l = layer();
      const channel = fresh("big");
      const big = { data: "x".repeat(1024 * 1024) };
      await l.send(channel, big);
      expect(await l.receive(channel, { timeoutMs: 10_000 })).toEqual(big);
      const error = await l.send(channel, { data: "x".repeat(2 * 1024 * 1024) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MessageTooLargeError);
      expect((error as MessageTooLargeError).code).toBe("MESSAGE_TOO_LARGE");
      await expectRejects(l.send(channel, { data: new Uint8Array(2 * 1024 * 1024) }), MessageTooLargeError);
      await expectRejects(l.groupSend("big-group", { data: "x".repeat(2 * 1024 * 1024) }), MessageTooLargeError);
    });

    it("when values are binary, unicode, nested or special numbers, they arrive intact and typed", async () => {
      const l = layer();
      const channel = fresh("types");
      const message = {
        bytes: new Uint8Array([0, 1, 2, 254, 255]),
        text: "Zoë 🎟️ 東京 \u0000 \n",
        digits: "0042",
        n: -12.5,
        big: 2 ** 40,
        yes: true,
        nothing: null,
        list: [1, "two", new Uint8Array([3]), { deep: ["é"] }],
      };
      await l.send(channel, message);
      const got = await l.receive(channel, { timeoutMs: 5000 });
      expect(got).toEqual(message);
      expect(got.bytes).toBeInstanceOf(Uint8Array);
      expect(typeof got.digits).toBe("string");
    });

    it("when several receivers wait on one channel, N messages make N distinct deliveries and no duplicates", async () => {
      const l = layer({ capacity: 200 });
      const channel = fresh("compete");
      const n = 60;
      const receivers = Array.from({ length: n }, () => l.receive(channel, { timeoutMs: 10_000 }));
      await Promise.all(Array.from({ length: n }, (_, i) => l.send(channel, { i })));
      const got = (await Promise.all(receivers)).map((m) => m.i as number);
      expect(new Set(got).size).toBe(n);
      expect([...got].sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i));
      await expectRejects(l.receive(channel, { timeoutMs: 200 }), ReceiveTimeoutError);
    });

    it("when 50 senders race into a channel of capacity 10, exactly 10 are accepted", async () => {
      const l = layer({ capacity: 10 });
      const channel = fresh("race");
      const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => l.send(channel, { i })));
      const accepted = results.filter((r) => r.status === "fulfilled").length;
      const rejected = results.filter((r) => r.status === "rejected");
      expect(accepted).toBe(10);
      for (const r of rejected) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(ChannelFullError);
      for (let i = 0; i < 10; i++) await l.receive(channel, { timeoutMs: 5000 });
      await expectRejects(l.receive(channel, { timeoutMs: 200 }), ReceiveTimeoutError);
    });

    it("when a receive is aborted, it rejects with the signal's reason", async () => {
      const l = layer();
      const channel = fresh("abort");
      const controller = new AbortController();
      const pending = l.receive(channel, { signal: controller.signal });
      controller.abort();
      const error = await pending.catch((e: unknown) => e);
      expect((error as Error).name).toBe("AbortError");
      const reason = new Error("gave up");
      await expect(l.receive(channel, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
      await expectRejects(l.receive(channel, { timeoutMs: 50 }), ReceiveTimeoutError);
    });

    it.each([
      ["normal", "receive"],
      ["process-local", "receive"],
      ["normal", "receiveMany"],
      ["process-local", "receiveMany"],
    ])("when %s %s calls are cancelled at random moments 1,000 times, no message is lost or duplicated", async (kind, how) => {
      const l = layer({ capacity: 2000 });
      const take = async (ch: string, options: { signal?: AbortSignal; timeoutMs?: number }): Promise<number[]> =>
        how === "receive" ? [(await l.receive(ch, options)).i as number] : (await l.receiveMany!(ch, { ...options, max: 7 })).map((m) => m.i as number);
      const channel = kind === "normal" ? fresh("cancel") : await l.newChannel();
      const total = 1000;
      const got: number[] = [];
      const sending = (async () => {
        for (let i = 0; i < total; i++) {
          await l.send(channel, { i });
          if (i % 4 === 0) await new Promise((r) => setImmediate(r));
        }
      })();
      let cancelled = 0;
      for (let attempt = 0; attempt < total; attempt++) {
        const controller = new AbortController();
        const moment = Math.random();
        if (moment < 0.3) queueMicrotask(() => controller.abort());
        else if (moment < 0.6) setImmediate(() => controller.abort());
        else setTimeout(() => controller.abort(), Math.floor(Math.random() * 3));
        try {
          got.push(...(await take(channel, { signal: controller.signal })));
        } catch (error) {
          expect((error as Error).name).toBe("AbortError");
          cancelled += 1;
        }
      }
      await sending;
      while (got.length < total) {
        got.push(...(await take(channel, { timeoutMs: 5000 })));
      }
      expect(cancelled).toBeGreaterThan(0);
      expect(new Set(got).size).toBe(total);
      expect(got).toEqual(Array.from({ length: total }, (_, i) => i));
    });

    it("when one channel is flooded, a receive on a quiet channel is still served promptly", async () => {
      const l = layer({ capacity: 5000 });
      const busy = fresh("busy");
      const quiet = fresh("quiet");
      let stop = false;
      let drained = 0;
      const flood = (async () => {
        while (!stop) {
          await l.send(busy, { x: 1 }).catch(() => {});
          // Let timers run: a real sender does I/O between sends, and the in-memory layer never yields.
          await new Promise((r) => setImmediate(r));
        }
      })();
      const drain = (async () => {
        while (!stop) {
          await l.receive(busy, { timeoutMs: 1000 }).then(() => (drained += 1), () => {});
        }
      })();
      const quietReceive = l.receive(quiet, { timeoutMs: 5000 });
      await new Promise((r) => setTimeout(r, 50));
      await l.send(quiet, { hello: "quiet" });
      expect(await quietReceive).toEqual({ hello: "quiet" });
      stop = true;
      await Promise.all([flood, drain]);
      expect(drained).toBeGreaterThan(0);
    });

    it("when the layer is closed, pending receives reject with BusUnavailableError and later calls fail", async () => {
      const l = target.create();
      // Settled into values at once: they reject during close(), before the assertions look.
      const settle = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);
      const pending = settle(l.receive(fresh("closing"), { timeoutMs: 10_000 }));
      const local = settle(l.receive(await l.newChannel(), { timeoutMs: 10_000 }));
      await new Promise((r) => setTimeout(r, 20));
      await l.close();
      expect(await pending).toBeInstanceOf(BusUnavailableError);
      expect(await local).toBeInstanceOf(BusUnavailableError);
      await expectRejects(l.send(fresh("after-close"), {}), BusUnavailableError);
      await l.close(); // closing twice is harmless
    });

    it("when flush is called, queued messages and groups are gone", async () => {
      const l = layer();
      const channel = fresh("flush");
      const group = fresh("flush-grp");
      const member = fresh("flush-member");
      await l.send(channel, { n: 1 });
      await l.groupAdd(group, member);
      await l.flush();
      await l.groupSend(group, { n: 2 });
      await expectRejects(l.receive(channel, { timeoutMs: 200 }), ReceiveTimeoutError);
      await expectRejects(l.receive(member, { timeoutMs: 200 }), ReceiveTimeoutError);
    });
  });
}
