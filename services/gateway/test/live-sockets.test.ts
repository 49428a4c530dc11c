import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { eventLiveGroup } from "@boxoffice/contracts";
import { waitFor } from "@boxoffice/testkit";
import type { WebSocket } from "ws";
import { createTestGateway, type TestGateway } from "./helpers.ts";

let t: TestGateway;
beforeEach(async () => {
  t = await createTestGateway({ LIVE_SOCKET_LIFETIME_MS: "1500", LIVE_SOCKET_JITTER_MS: "0" });
  // Sockets are only for events that exist: a second one beside the fake's event 100.
  t.backend.events.set("200", { ...t.backend.events.get("100")!, id: "200" });
});
afterEach(async () => {
  await t.close();
});

interface Watched {
  socket: WebSocket;
  messages: Array<Record<string, unknown>>;
  closed: { code?: number };
}

/** Opens a live socket with its listeners attached before the first message can arrive. */
async function watch(eventId: string): Promise<Watched> {
  const messages: Array<Record<string, unknown>> = [];
  const closed: { code?: number } = {};
  const socket = await t.gateway.app.injectWS(`/api/events/${eventId}/live`, {}, {
    onInit(ws) {
      ws.on("message", (data) => messages.push(JSON.parse(String(data))));
      ws.on("close", (code) => (closed.code = code));
    },
  });
  return { socket, messages, closed };
}

describe("live availability sockets", () => {
  it("when inventory sends availability to the event's group, every socket watching that event receives it once", async () => {
    const [a, b, c] = [await watch("100"), await watch("100"), await watch("200")];
    await waitFor(() => [a, b, c].every((s) => s.messages.some((m) => m.type === "ready")), { what: "sockets ready" });
    const message = { type: "availability", eventId: "100", available: 7, sections: [{ id: "101", available: 7 }] };
    await t.layer.groupSend(eventLiveGroup("100"), message);
    // A later message to each group is the grace period: a duplicate of the first would arrive before it.
    const later100 = { ...message, available: 6, sections: [{ id: "101", available: 6 }] };
    const later200 = { type: "availability", eventId: "200", available: 3, sections: [{ id: "201", available: 3 }] };
    await t.layer.groupSend(eventLiveGroup("100"), later100);
    await t.layer.groupSend(eventLiveGroup("200"), later200);
    const sawLater = (s: { messages: Array<Record<string, unknown>> }, later: Record<string, unknown>) => s.messages.some((m) => m.available === later.available && m.eventId === later.eventId);
    await waitFor(() => sawLater(a, later100) && sawLater(b, later100) && sawLater(c, later200), { what: "the later message on every socket" });
    expect(a.messages.slice(1)).toEqual([message, later100]);
    expect(b.messages.slice(1)).toEqual([message, later100]);
    expect(c.messages.slice(1), "a socket watching another event").toEqual([later200]);
    for (const s of [a, b, c]) s.socket.terminate();
  });

  it("when a socket has lived its lifetime, the server closes it with the rebalance code and the open-socket gauge returns to zero", async () => {
    const s = await watch("100");
    await waitFor(() => s.closed.code !== undefined, { what: "the server to close the socket", timeoutMs: 10_000 });
    expect(s.closed.code).toBe(4000);
    await waitFor(async () => (await t.gateway.context.metrics.openSockets.get()).values[0]?.value === 0, { what: "the gauge at zero" });
  });
});
