import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { eventLiveGroup } from "@boxoffice/contracts";
import { waitFor } from "@boxoffice/testkit";
import type { WebSocket } from "ws";
import { createTestGateway, sessionCookie, type TestGateway } from "./helpers.ts";

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
async function watch(eventId: string, options: { query?: string; cookie?: string } = {}): Promise<Watched> {
  const messages: Array<Record<string, unknown>> = [];
  const closed: { code?: number } = {};
  const socket = await t.gateway.app.injectWS(`/api/events/${eventId}/live${options.query ?? ""}`, options.cookie ? { headers: { cookie: options.cookie } } : {}, {
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

  it("when an order is confirmed, the organiser's ?sales=1 socket gets the sale (counts and money, no buyer) and a buyer's socket does not; a buyer asking for sales is refused 403", async () => {
    t.backend.events.set("100", { ...t.backend.events.get("100")!, organizerId: "1" });
    const organiser = sessionCookie(await t.gateway.app.inject({ method: "POST", url: "/api/session", payload: { email: "organizer@boxoffice.test", password: "organizer-password" } }));
    expect((await t.gateway.app.inject({ method: "POST", url: "/api/users", payload: { email: "sale-watcher@example.test", password: "long-enough", displayName: "Sam" } })).statusCode).toBe(201);
    const buyer = sessionCookie(await t.gateway.app.inject({ method: "POST", url: "/api/session", payload: { email: "sale-watcher@example.test", password: "long-enough" } }));
    const refused = await t.gateway.app.inject({ method: "GET", url: "/api/events/100/live?sales=1", headers: { cookie: buyer, upgrade: "websocket", connection: "Upgrade", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" } });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe("FORBIDDEN");

    const [sales, plain] = [await watch("100", { query: "?sales=1", cookie: organiser }), await watch("100", { cookie: buyer })];
    await waitFor(() => [sales, plain].every((s) => s.messages.some((m) => m.type === "ready")), { what: "sockets ready" });
    const hold = await t.gateway.app.inject({ method: "POST", url: "/api/events/100/holds", headers: { cookie: buyer }, payload: { quantity: 2 } });
    expect(hold.statusCode).toBe(201);
    const order = await t.gateway.app.inject({
      method: "POST", url: "/api/orders", headers: { cookie: buyer, "idempotency-key": "sale-1" },
      payload: { holdId: hold.json().hold.id, payment: { cardNumber: "4242424242424242", expMonth: 12, expYear: 2030, cvc: "123" } },
    });
    expect(order.statusCode).toBe(201);
    const sale = await waitFor(() => sales.messages.find((m) => m.type === "sale"), { what: "the sale on the organiser's socket" });
    expect(sale).toEqual({ type: "sale", eventId: "100", orderId: order.json().order.id, at: order.json().order.createdAt, tickets: 2, totalCents: 10_000, sections: [{ section: "Floor", tickets: 2 }] });
    // Both sockets are on the same group and the same hub: had the buyer's been sent the sale, it would be there by now.
    await t.layer.groupSend(eventLiveGroup("100"), { type: "availability", eventId: "100", available: 8, sections: [{ id: "101", available: 8 }] });
    await waitFor(() => plain.messages.some((m) => m.type === "availability"), { what: "the availability after the sale on the buyer's socket" });
    expect(plain.messages.filter((m) => m.type === "sale")).toEqual([]);
    for (const s of [sales, plain]) s.socket.terminate();
  });

  it("when a socket has lived its lifetime, the server closes it with the rebalance code and the open-socket gauge returns to zero", async () => {
    const s = await watch("100");
    await waitFor(() => s.closed.code !== undefined, { what: "the server to close the socket", timeoutMs: 10_000 });
    expect(s.closed.code).toBe(4000);
    await waitFor(async () => (await t.gateway.context.metrics.openSockets.get()).values[0]?.value === 0, { what: "the gauge at zero" });
  });
});
