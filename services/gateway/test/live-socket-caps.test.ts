// Live sockets cost the gateway memory and a bus group membership each, so who may hold how many is
// bounded before the upgrade: only for events that exist, a few per client address, a cap in total.
import { describe, expect, it } from "vitest";
import { waitFor } from "@boxoffice/testkit";
import { WebSocket } from "ws";
import { createTestGateway, type TestGateway } from "./helpers.ts";

/** Opens a live socket, or resolves with the HTTP status the upgrade was refused with. */
async function open(t: TestGateway, eventId: string): Promise<{ socket?: WebSocket; refused?: string }> {
  try {
    return { socket: await t.gateway.app.injectWS(`/api/events/${eventId}/live`) };
  } catch (error) {
    return { refused: (error as Error).message };
  }
}

describe("live socket caps", () => {
  it("when a browser opens a live socket for an event that does not exist, the upgrade is refused with 404", async () => {
    const t = await createTestGateway();
    try {
      const result = await open(t, "987654321");
      expect(result.socket).toBeUndefined();
      expect(result.refused).toMatch(/404/);
    } finally {
      await t.close();
    }
  });

  /** A real listener and real WebSocket clients: the client address comes from the socket and X-Forwarded-For. */
  async function connect(url: string, forwardedFor: string): Promise<{ socket?: WebSocket; refused?: number }> {
    const socket = new WebSocket(`${url.replace("http", "ws")}/api/events/100/live`, { headers: { "x-forwarded-for": forwardedFor } });
    return new Promise((resolve) => {
      socket.once("open", () => resolve({ socket }));
      socket.once("unexpected-response", (_request, response) => resolve({ refused: response.statusCode }));
      socket.once("error", () => resolve({ refused: -1 }));
    });
  }

  it("when one address opens more sockets than its cap, the extra one is refused with 429 and others still get theirs", async () => {
    const t = await createTestGateway({ LIVE_SOCKETS_PER_ADDRESS: "2", TRUST_PROXY: "1", PORT: "0" });
    const sockets: WebSocket[] = [];
    try {
      const url = await t.gateway.start();
      for (let i = 0; i < 2; i++) sockets.push((await connect(url, "198.51.100.1")).socket!);
      expect(sockets.every(Boolean)).toBe(true);
      expect((await connect(url, "198.51.100.1")).refused).toBe(429);
      const other = await connect(url, "198.51.100.2");
      expect(other.socket).toBeDefined();
      sockets.push(other.socket!);
    } finally {
      for (const s of sockets) s?.terminate();
      await t.close();
    }
  });

  it("when the instance holds its total cap, a new socket is refused with 503 until one closes", async () => {
    const t = await createTestGateway({ LIVE_SOCKETS_MAX: "2", TRUST_PROXY: "1", PORT: "0" });
    const sockets: WebSocket[] = [];
    try {
      const url = await t.gateway.start();
      for (let i = 0; i < 2; i++) sockets.push((await connect(url, `198.51.100.${i}`)).socket!);
      expect((await connect(url, "198.51.100.9")).refused).toBe(503);
      const closing = sockets.pop()!;
      await new Promise<void>((resolve) => {
        closing.once("close", () => resolve());
        closing.close();
      });
      // The server counts the socket as gone once it has seen the close.
      await waitFor(async () => {
        const again = await connect(url, "198.51.100.9");
        if (again.socket) sockets.push(again.socket);
        return again.socket !== undefined;
      }, { what: "a socket to be accepted again after one closed" });
    } finally {
      for (const s of sockets) s?.terminate();
      await t.close();
    }
  });
});
