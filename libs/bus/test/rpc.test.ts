import { requireRedis, uniqueName, waitFor } from "@boxoffice/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  createInMemoryChannelLayer,
  createRedisChannelLayer,
  createRpcClient,
  createRpcServer,
  defineMethod,
  InvalidRpcOptionError,
  methodsServedBy,
  RpcError,
  RpcErrorCodes,
  type ChannelLayer,
  type ChannelLayerOptions,
  type RpcClient,
  type RpcContext,
  type RpcLogger,
  type RpcServer,
} from "../src/index.ts";

/** How a test gets "several processes" on one bus: in memory they share one layer; on Redis each has its own. */
interface Target {
  name: string;
  available: boolean;
  layers(count: number, options?: ChannelLayerOptions): ChannelLayer[];
}

const redis = await requireRedis();

const targets: Target[] = [
  {
    name: "in-memory layer",
    available: true,
    layers(count, options) {
      const layer = createInMemoryChannelLayer(options);
      return Array.from({ length: count }, () => layer);
    },
  },
  {
    name: "Redis layer",
    available: redis.available,
    layers(count, options) {
      return Array.from({ length: count }, () => createRedisChannelLayer({ ...options, hosts: [redis.url] }));
    },
  },
];

const helloV1 = defineMethod({
  name: "greeter.hello.v1",
  request: z.object({ name: z.string().min(1), shout: z.boolean().default(false) }),
  response: z.object({ text: z.string(), servedBy: z.string().default("?") }),
});
const helloV2 = defineMethod({
  name: "greeter.hello.v2",
  request: z.object({ firstName: z.string(), lastName: z.string() }),
  response: z.object({ greeting: z.string() }),
});
const waitV1 = defineMethod({
  name: "greeter.wait.v1",
  request: z.object({ label: z.string() }),
  response: z.object({ label: z.string(), servedBy: z.string() }),
});
const failV1 = defineMethod({
  name: "greeter.fail.v1",
  request: z.object({ kind: z.enum(["domain", "bug"]) }),
  response: z.object({}),
});
const neverServedV1 = defineMethod({ name: "greeter.unknown.v1", request: z.object({}), response: z.object({}) });
const relayV1 = defineMethod({ name: "front.relay.v1", request: z.object({}), response: z.object({ front: z.record(z.string(), z.unknown()), back: z.record(z.string(), z.unknown()) }) });
const echoContextV1 = defineMethod({ name: "back.echo.v1", request: z.object({}), response: z.record(z.string(), z.unknown()) });

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { wait: () => opened, open };
}

function quietLogger(): RpcLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, warn: (_f, m) => void lines.push(`warn ${m}`), error: (_f, m) => void lines.push(`error ${m}`) };
}

function contextSnapshot(ctx: RpcContext) {
  return { traceparent: ctx.traceparent, traceId: ctx.traceId, caller: ctx.caller, token: ctx.token ?? null, deadline: ctx.deadline, timeLeftMs: ctx.timeLeftMs(), requestId: ctx.requestId, method: ctx.method };
}

async function rejection(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(RpcError);
    return error as RpcError;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

describe.each(targets)("RPC over the $name", (target) => {
  describe.skipIf(!target.available)(target.name, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    /** `count` layers sharing one bus, closed after the test. A unique prefix keeps files apart on Redis. */
    function bus(count: number, options: ChannelLayerOptions = {}): ChannelLayer[] {
      const layers = target.layers(count, { prefix: uniqueName("rpc"), ...options });
      cleanups.push(async () => {
        for (const layer of new Set(layers)) await layer.flush().catch(() => {});
        for (const layer of new Set(layers)) await layer.close();
      });
      return layers;
    }
    function client(layer: ChannelLayer, service = "test", defaultDeadlineMs?: number): RpcClient {
      const created = createRpcClient({ layer, service, defaultDeadlineMs });
      cleanups.push(() => created.close());
      return created;
    }
    function server(layer: ChannelLayer, service = "greeter", concurrency?: number, logger: RpcLogger = quietLogger()): RpcServer {
      const created = createRpcServer({ layer, service, concurrency, logger });
      cleanups.push(() => created.stop());
      return created;
    }

    it("when a method is called, the reply comes back parsed: unknown fields ignored, defaults filled", async () => {
      const [layer] = bus(1);
      const greeter = server(layer).handle(helloV1, ({ name, shout }) => ({ text: shout ? `HELLO ${name.toUpperCase()}` : `hello ${name}`, extra: 1 }));
      greeter.start();
      const caller = client(layer);
      const reply = await caller.call(helloV1, { name: "ada", unknownField: true } as { name: string });
      expect(reply).toEqual({ text: "hello ada", servedBy: "?" });
      expect(await caller.call(helloV1, { name: "bob", shout: true })).toMatchObject({ text: "HELLO BOB" });
    });

    it("when two instances serve one service, both take requests from the shared channel", async () => {
      const [layerA, layerB, layerC] = bus(3);
      const release = gate();
      const make = (layer: ChannelLayer, name: string) =>
        server(layer, "greeter", 1).handle(waitV1, async ({ label }) => {
          await release.wait();
          return { label, servedBy: name };
        });
      const a = make(layerA, "a");
      const b = make(layerB, "b");
      a.start();
      b.start();
      const caller = client(layerC);
      const calls = [caller.call(waitV1, { label: "1" }), caller.call(waitV1, { label: "2" })];
      // Each instance runs one handler at a time, so both being busy means they shared the two calls.
      await waitFor(() => a.inFlight === 1 && b.inFlight === 1, { what: "each instance to be handling one call" });
      release.open();
      const replies = await Promise.all(calls);
      expect(replies.map((r) => r.servedBy).sort()).toEqual(["a", "b"]);
    });

    it("when a server handles v1 and v2 of a verb side by side, each caller gets its version's answer", async () => {
      const [layer] = bus(1);
      const greeter = server(layer)
        .handle(helloV1, ({ name }) => ({ text: `hello ${name}` }))
        .handle(helloV2, ({ firstName, lastName }) => ({ greeting: `hello ${firstName} ${lastName}` }));
      greeter.start();
      const caller = client(layer);
      const [v1, v2] = await Promise.all([caller.call(helloV1, { name: "ada" }), caller.call(helloV2, { firstName: "Ada", lastName: "Lovelace" })]);
      expect(v1.text).toBe("hello ada");
      expect(v2.greeting).toBe("hello Ada Lovelace");
      expect(methodsServedBy(greeter)).toEqual(["greeter.hello.v1", "greeter.hello.v2"]);
    });

    it("when a request fails validation, the caller gets VALIDATION_FAILED naming each field, and the server goes on", async () => {
      const [layer] = bus(1);
      server(layer).handle(helloV1, ({ name }) => ({ text: `hello ${name}` })).start();
      const caller = client(layer);
      const error = await rejection(caller.call(helloV1, { name: "", shout: "yes" } as unknown as { name: string }));
      expect(error.code).toBe(RpcErrorCodes.VALIDATION_FAILED);
      expect(error.retryable).toBe(false);
      const fields = (error.details as { fields: Array<{ path: string; message: string }> }).fields;
      expect(fields.map((f) => f.path).sort()).toEqual(["name", "shout"]);
      expect(fields.every((f) => f.message.length > 0)).toBe(true);
      expect(await caller.call(helloV1, { name: "ada" })).toMatchObject({ text: "hello ada" });
    });

    it("when nobody serves a method, the caller gets METHOD_NOT_FOUND", async () => {
      const [layer] = bus(1);
      server(layer).handle(helloV1, ({ name }) => ({ text: name })).start();
      const error = await rejection(client(layer).call(neverServedV1, {}));
      expect(error.code).toBe(RpcErrorCodes.METHOD_NOT_FOUND);
      expect(error.details).toMatchObject({ method: "greeter.unknown.v1", served: ["greeter.hello.v1"] });
    });

    it("when a handler throws a domain error, the caller gets it rebuilt with code, retryable and details; a bug crosses as INTERNAL", async () => {
      const [layer] = bus(1);
      const logger = quietLogger();
      server(layer, "greeter", undefined, logger)
        .handle(failV1, ({ kind }) => {
          if (kind === "domain") throw new RpcError("SOLD_OUT", "seat 12 is sold", { retryable: false, details: { seat: 12 } });
          throw new Error("database password is hunter2");
        })
        .start();
      const caller = client(layer);
      const domain = await rejection(caller.call(failV1, { kind: "domain" }));
      expect({ code: domain.code, message: domain.message, retryable: domain.retryable, details: domain.details }).toEqual({
        code: "SOLD_OUT",
        message: "seat 12 is sold",
        retryable: false,
        details: { seat: 12 },
      });
      const bug = await rejection(caller.call(failV1, { kind: "bug" }));
      expect(bug.code).toBe(RpcErrorCodes.INTERNAL);
      expect(bug.message).not.toMatch(/hunter2/);
      expect(logger.lines).toContain("error RPC handler failed");
    });

    it("when the deadline passes, the caller gets DEADLINE_EXCEEDED, the server skips the expired request and the late reply is dropped", async () => {
      const [layer] = bus(1);
      const release = gate();
      const handled: string[] = [];
      server(layer, "greeter", 1)
        .handle(waitV1, async ({ label }) => {
          handled.push(label);
          if (label === "slow") await release.wait();
          return { label, servedBy: "s" };
        })
        .start();
      const caller = client(layer);
      const slow = caller.call(waitV1, { label: "slow" }, { deadlineMs: 150 });
      // On a loaded machine its deadline may pass before the assertion below reads it.
      slow.catch(() => {});
      await waitFor(() => handled.includes("slow"), { what: "the slow call to be taken" });
      // The only slot is busy, so this one waits in the channel until its deadline is gone.
      const expired = await rejection(caller.call(waitV1, { label: "expired" }, { deadlineMs: 50 }));
      expect(expired.code).toBe(RpcErrorCodes.DEADLINE_EXCEEDED);
      expect((await rejection(slow)).code).toBe(RpcErrorCodes.DEADLINE_EXCEEDED);
      release.open(); // the slow handler now replies late; nobody waits for it
      expect(await caller.call(waitV1, { label: "fresh" })).toMatchObject({ label: "fresh" });
      expect(handled).toEqual(["slow", "fresh"]);
    });

    it("when calls with different deadlines wait at once, each fails at its own deadline, the earliest first", async () => {
      const [layer] = bus(1);
      const caller = client(layer);
      const started = Date.now();
      const failedAt = new Map<number, number>();
      // Nobody serves: every call can only end at its deadline. A later call with an earlier deadline must not wait for the others.
      const calls = [400, 150, 250].map((deadlineMs) =>
        rejection(caller.call(neverServedV1, {}, { deadlineMs })).then((error) => {
          failedAt.set(deadlineMs, Date.now() - started);
          return error.code;
        }),
      );
      expect(await Promise.all(calls)).toEqual([RpcErrorCodes.DEADLINE_EXCEEDED, RpcErrorCodes.DEADLINE_EXCEEDED, RpcErrorCodes.DEADLINE_EXCEEDED]);
      for (const [deadlineMs, at] of failedAt) {
        expect(at).toBeGreaterThanOrEqual(deadlineMs - 1);
        expect(at).toBeLessThan(deadlineMs + 100);
      }
      expect([...failedAt.keys()]).toEqual([150, 250, 400]);
    });

    it("when the request channel is full, the caller gets BUSY at once; with waitForCapacity it gets through once room appears", async () => {
      const [layer] = bus(1, { channelCapacity: [["greeter.rpc", 2]] });
      const caller = client(layer);
      const stop = new AbortController();
      // No server yet: two requests fill the channel.
      const parked = [caller.call(helloV1, { name: "1" }, { signal: stop.signal }), caller.call(helloV1, { name: "2" }, { signal: stop.signal })];
      for (const call of parked) call.catch(() => {});
      const busy = await rejection(caller.call(helloV1, { name: "3" }));
      expect(busy.code).toBe(RpcErrorCodes.BUSY);
      expect(busy.retryable).toBe(true);

      const patient = caller.call(helloV1, { name: "patient" }, { waitForCapacity: true, deadlineMs: 10_000 });
      server(layer).handle(helloV1, ({ name }) => ({ text: `hello ${name}` })).start();
      expect(await patient).toMatchObject({ text: "hello patient" });
      await Promise.all(parked);
      stop.abort();
    });

    it("when patient callers find the request channel full, they get in in the order they called, a later one never passes them, and one whose deadline passes drops out", async () => {
      const [layer] = bus(1, { channelCapacity: [["greeter.rpc", 2]] });
      const caller = client(layer);
      const stop = new AbortController();
      const parked = [caller.call(helloV1, { name: "1" }, { signal: stop.signal }), caller.call(helloV1, { name: "2" }, { signal: stop.signal })];
      for (const call of parked) call.catch(() => {});
      const patient = (name: string, deadlineMs = 10_000) => caller.call(helloV1, { name }, { waitForCapacity: true, deadlineMs });
      const early = ["a", "b"].map((name) => patient(name));
      const impatient = rejection(patient("gives up", 80));
      const c = patient("c");
      // The line has waited through several refusals before the last one comes.
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect((await impatient).code).toBe(RpcErrorCodes.DEADLINE_EXCEEDED);
      const d = patient("d");
      // A caller that does not wait is still refused at once.
      expect((await rejection(caller.call(helloV1, { name: "busy" }))).code).toBe(RpcErrorCodes.BUSY);
      const handled: string[] = [];
      server(layer, "greeter", 1)
        .handle(helloV1, ({ name }) => {
          handled.push(name);
          return { text: `hello ${name}` };
        })
        .start();
      expect((await Promise.all([...early, c, d])).map((reply) => reply.text)).toEqual(["hello a", "hello b", "hello c", "hello d"]);
      await Promise.all(parked);
      expect(handled).toEqual(["1", "2", "a", "b", "c", "d"]);
      stop.abort();
    });

    it("when a server's concurrency is N, it runs at most N handlers and leaves the rest for another instance", async () => {
      const [layerA, layerB, layerC] = bus(3);
      const release = gate();
      let runningInA = 0;
      let mostInA = 0;
      const a = server(layerA, "greeter", 2).handle(waitV1, async ({ label }) => {
        mostInA = Math.max(mostInA, ++runningInA);
        await release.wait();
        runningInA--;
        return { label, servedBy: "a" };
      });
      a.start();
      const caller = client(layerC);
      const calls = ["1", "2", "3", "4", "5"].map((label) => caller.call(waitV1, { label }));
      await waitFor(() => a.inFlight === 2, { what: "instance a to fill its two slots" });
      const b = server(layerB, "greeter", 10).handle(waitV1, async ({ label }) => {
        await release.wait();
        return { label, servedBy: "b" };
      });
      b.start();
      await waitFor(() => b.inFlight === 3, { what: "instance b to take the three requests a left" });
      release.open();
      const replies = await Promise.all(calls);
      expect(mostInA).toBe(2);
      expect(replies.filter((r) => r.servedBy === "a")).toHaveLength(2);
      expect(replies.filter((r) => r.servedBy === "b")).toHaveLength(3);
    });

    it("when a handler calls on with its context, trace id, token and deadline carry over and the caller is named", async () => {
      const [layerFront, layerBack, layerEdge] = bus(3);
      server(layerBack, "back").handle(echoContextV1, (_input, ctx) => contextSnapshot(ctx)).start();
      const frontClient = client(layerFront, "front");
      server(layerFront, "front")
        .handle(relayV1, async (_input, ctx) => ({ front: contextSnapshot(ctx), back: await frontClient.call(echoContextV1, {}, { context: ctx }) }))
        .start();
      const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
      const { front, back } = await client(layerEdge, "edge").call(relayV1, {}, { traceparent, token: "user-token", deadlineMs: 4000 });
      expect(front.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
      expect(back.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
      // Same trace, a new span per hop.
      const spans = new Set([traceparent, front.traceparent, back.traceparent].map((t) => String(t).split("-")[2]));
      expect(spans.size).toBe(3);
      expect(front.caller).toBe("edge");
      expect(back.caller).toBe("front");
      expect(front.token).toBe("user-token");
      expect(back.token).toBe("user-token");
      expect(back.deadline).toBe(front.deadline);
      expect(front.timeLeftMs as number).toBeGreaterThan(0);
      expect(front.timeLeftMs as number).toBeLessThanOrEqual(4000);
    });

    it("when no traceparent is given, a valid one is generated", async () => {
      const [layer] = bus(1);
      server(layer, "back").handle(echoContextV1, (_input, ctx) => contextSnapshot(ctx)).start();
      const seen = await client(layer).call(echoContextV1, {});
      expect(seen.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(seen.traceId).toBe(String(seen.traceparent).split("-")[1]);
      expect(seen.token).toBeNull();
    });

    it("when a server stops, it finishes the requests it took and takes no new ones", async () => {
      const [layer] = bus(1);
      const release = gate();
      const handled: string[] = [];
      const greeter = server(layer).handle(waitV1, async ({ label }) => {
        handled.push(label);
        await release.wait();
        return { label, servedBy: "s" };
      });
      greeter.start();
      const caller = client(layer);
      const inFlight = caller.call(waitV1, { label: "taken" });
      await waitFor(() => greeter.inFlight === 1, { what: "the call to be taken" });
      let stopped = false;
      const stopping = greeter.stop().then(() => (stopped = true));
      const late = caller.call(waitV1, { label: "after-stop" }, { deadlineMs: 300 });
      expect((await rejection(late)).code).toBe(RpcErrorCodes.DEADLINE_EXCEEDED);
      expect(stopped).toBe(false);
      release.open();
      expect(await inFlight).toMatchObject({ label: "taken" });
      await stopping;
      expect(handled).toEqual(["taken"]);
    });

    it("when a request comes in the seven-key envelope of older clients, the server answers it in that envelope; a compact request gets a compact answer", async () => {
      const [layer] = bus(1);
      server(layer).handle(helloV1, ({ name }) => ({ text: `hello ${name}`, servedBy: "s" })).start();
      const inbox = await layer.newChannel("probe");
      const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
      const deadline = Date.now() + 5000;
      await layer.send("greeter.rpc", { id: "old", method: helloV1.name, body: { name: "old" }, replyTo: inbox, deadline, traceparent, caller: "t" });
      expect(await layer.receive(inbox, { timeoutMs: 5000 })).toEqual({ id: "old", ok: true, body: { text: "hello old", servedBy: "s" } });
      await layer.send("greeter.rpc", { q: ["new", helloV1.name, { name: "new" }, inbox, deadline, traceparent, "t"] });
      expect(await layer.receive(inbox, { timeoutMs: 5000 })).toEqual({ a: ["new", true, { text: "hello new", servedBy: "s" }] });
      await layer.send("greeter.rpc", { q: ["bad", helloV1.name, { name: "" }, inbox, deadline, traceparent, "t"] });
      expect(await layer.receive(inbox, { timeoutMs: 5000 })).toMatchObject({ a: ["bad", false, { code: RpcErrorCodes.VALIDATION_FAILED }] });
    });

    it("when bad messages arrive on the request channel or the reply channel is gone, the server survives", async () => {
      const [layer] = bus(1);
      const logger = quietLogger();
      server(layer, "greeter", undefined, logger).handle(helloV1, ({ name }) => ({ text: `hello ${name}` })).start();
      const inbox = await layer.newChannel("probe");
      await layer.send("greeter.rpc", {});
      await layer.send("greeter.rpc", { id: 5, replyTo: [] });
      await layer.send("greeter.rpc", { id: "no-method", replyTo: inbox });
      await layer.send("greeter.rpc", { id: "gone", method: "greeter.hello.v1", body: { name: "x" }, replyTo: "nobody.abc!def", deadline: Date.now() + 5000, traceparent: "00-x", caller: "t" });
      const answer = await layer.receive(inbox, { timeoutMs: 5000 });
      expect(answer).toMatchObject({ id: "no-method", ok: false, error: { code: RpcErrorCodes.VALIDATION_FAILED } });
      expect(await client(layer).call(helloV1, { name: "still here" })).toMatchObject({ text: "hello still here" });
      expect(logger.lines.filter((l) => l.includes("malformed"))).toHaveLength(2);
    });

    it("when the caller aborts a call, it rejects with the abort reason and the later reply is dropped", async () => {
      const [layer] = bus(1);
      const release = gate();
      const greeter = server(layer).handle(waitV1, async ({ label }) => {
        await release.wait();
        return { label, servedBy: "s" };
      });
      greeter.start();
      const caller = client(layer);
      const controller = new AbortController();
      const call = caller.call(waitV1, { label: "aborted" }, { signal: controller.signal });
      await waitFor(() => greeter.inFlight === 1, { what: "the call to be taken" });
      controller.abort(new Error("buyer left"));
      await expect(call).rejects.toThrow("buyer left");
      release.open();
      expect(await caller.call(waitV1, { label: "next" })).toMatchObject({ label: "next" });
    });

    it("when a handler returns more than the bus can carry, the caller gets INTERNAL instead of waiting for its deadline", async () => {
      const [layer] = bus(1);
      const logger = quietLogger();
      server(layer, "greeter", undefined, logger).handle(helloV1, () => ({ text: "x".repeat(2 * 1024 * 1024) })).start();
      const error = await rejection(client(layer).call(helloV1, { name: "big" }, { deadlineMs: 20_000 }));
      expect(error.code).toBe(RpcErrorCodes.INTERNAL);
      expect(logger.lines).toContain("error RPC response could not be sent");
    });

    it("when the bus is unavailable, the call fails with retryable UNAVAILABLE", async () => {
      const [layer] = bus(1);
      const caller = client(layer);
      await layer.close();
      const error = await rejection(caller.call(helloV1, { name: "x" }));
      expect(error.code).toBe(RpcErrorCodes.UNAVAILABLE);
      expect(error.retryable).toBe(true);
    });
  });
});

describe("RPC setup mistakes", () => {
  it("when a method name lacks a service or a version, defineMethod fails naming the field", () => {
    expect(() => defineMethod({ name: "hold", request: z.object({}), response: z.object({}) })).toThrow(InvalidRpcOptionError);
    expect(() => defineMethod({ name: "inventory.hold", request: z.object({}), response: z.object({}) })).toThrow(/name/);
    expect(defineMethod({ name: "inventory.hold.v2", request: z.object({}), response: z.object({}) })).toMatchObject({ service: "inventory", version: 2 });
  });

  it("when a server is given another service's method or a bad concurrency, it refuses at once", () => {
    const layer = createInMemoryChannelLayer();
    expect(() => createRpcServer({ layer, service: "greeter", concurrency: 0 })).toThrow(/concurrency/);
    expect(() => createRpcServer({ layer, service: "inventory" }).handle(helloV1, () => ({ text: "" }))).toThrow(/belongs to greeter/);
  });
});
