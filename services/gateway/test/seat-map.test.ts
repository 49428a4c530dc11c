// The seat map of a big event over the real RPC client: inventory answers it in pages (one bus
// message each), the gateway puts them together into the one HTTP answer.
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { createInMemoryChannelLayer, createInMemoryFirehose, createRpcServer, RpcError } from "@boxoffice/bus";
import { inventorySeatsV1, type Seat } from "@boxoffice/contracts";
import { buildGateway } from "../src/app.ts";
import { loadGatewayConfig } from "../src/config.ts";
import { newSessionKey } from "./helpers.ts";

const layer = createInMemoryChannelLayer();
const firehose = createInMemoryFirehose();
const inventory = createRpcServer({ layer, service: "inventory" });

// 12,000 seats: more than fits in one bus message, several pages whatever limit the gateway asks for.
const EVENT_ID = "7001";
const seats: Seat[] = Array.from({ length: 12_000 }, (_, i) => ({
  id: String(1_000_000 + i),
  sectionId: i < 8000 ? "801" : "802",
  section: i < 8000 ? "Floor" : "Tier",
  row: Math.floor((i % 8000) / 200) + 1,
  number: (i % 200) + 1,
  status: i % 7 === 0 ? "sold" : "available",
}));
const asked: Array<{ after?: string; limit: number }> = [];
inventory.handle(inventorySeatsV1, async (input) => {
  if (input.eventId !== EVENT_ID) throw new RpcError("NOT_FOUND", "no seats for this event", { retryable: false });
  asked.push({ after: input.after, limit: input.limit });
  if (input.sectionId !== undefined && !seats.some((s) => s.sectionId === input.sectionId)) {
    throw new RpcError("VALIDATION_FAILED", "this event has no such section", { details: { fields: [{ path: "query.section", message: "not a section of this event" }] } });
  }
  const of = input.sectionId === undefined ? seats : seats.filter((s) => s.sectionId === input.sectionId);
  const from = input.after === undefined ? 0 : of.findIndex((s) => s.id === input.after) + 1;
  const page = of.slice(from, from + input.limit);
  return { seats: page, nextCursor: from + input.limit < of.length ? page[page.length - 1].id : null };
});
inventory.start();

// Building 12,000-seat answers blocks the loop for a while on a loaded machine: this file is about
// the seat map, not about shedding, so the loop-delay bound is out of the way.
const gateway = await buildGateway(loadGatewayConfig({ SESSION_KEYS: newSessionKey(), SERVE_WEB: "false", LOG_LEVEL: "silent", EVENT_LOOP_MAX_DELAY_MS: "60000" }), { layer, firehose });
await gateway.app.ready();

afterAll(async () => {
  await gateway.stop();
  await inventory.stop();
  await firehose.close();
  await layer.close();
});

describe("the seat map of a big event", () => {
  it("when an event's seats span several pages, GET /api/events/:id/seats returns every seat once, in the HTTP shape", async () => {
    const response = await gateway.app.inject({ method: "GET", url: `/api/events/${EVENT_ID}/seats` });
    expect(response.statusCode).toBe(200);
    const body = response.json<{ seats: Array<Record<string, unknown>> }>();
    expect(asked.length).toBeGreaterThan(1);
    expect(body.seats).toHaveLength(12_000);
    expect(new Set(body.seats.map((s) => s.id)).size).toBe(12_000);
    expect(body.seats.map((s) => s.id)).toEqual(seats.map((s) => s.id));
    expect(body.seats[0]).toMatchObject({ id: "1000000", section: "Floor", row: 1, number: 1, status: "sold" });
    expect(body.seats.filter((s) => s.status === "sold")).toHaveLength(seats.filter((s) => s.status === "sold").length);
  });

  it("when ?section= names one section, only its seats come back (v1.1); an unknown or malformed section is 400 in the error shape", async () => {
    const response = await gateway.app.inject({ method: "GET", url: `/api/events/${EVENT_ID}/seats?section=802` });
    expect(response.statusCode).toBe(200);
    const tier = response.json<{ seats: Array<{ id: string; section: string }> }>().seats;
    expect(tier).toHaveLength(4000);
    expect(new Set(tier.map((s) => s.section))).toEqual(new Set(["Tier"]));
    for (const bad of ["999", "abc", "1;drop"]) {
      const refused = await gateway.app.inject({ method: "GET", url: `/api/events/${EVENT_ID}/seats?section=${encodeURIComponent(bad)}` });
      expect(refused.statusCode, bad).toBe(400);
      expect(refused.json<{ error: { code: string } }>().error.code).toBe("VALIDATION_FAILED");
    }
  });

  it("when the browser accepts gzip, a section's seats come gzipped (far smaller) and decode to the same seats", async () => {
    const plain = await gateway.app.inject({ method: "GET", url: `/api/events/${EVENT_ID}/seats?section=801` });
    const zipped = await gateway.app.inject({ method: "GET", url: `/api/events/${EVENT_ID}/seats?section=801`, headers: { "accept-encoding": "gzip, deflate, br" } });
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(zipped.statusCode).toBe(200);
    expect(zipped.headers["content-encoding"]).toBe("gzip");
    expect(zipped.headers.vary).toContain("accept-encoding");
    expect(zipped.rawPayload.length).toBeLessThan(plain.rawPayload.length / 5);
    expect(JSON.parse(gunzipSync(zipped.rawPayload).toString("utf8"))).toEqual(plain.json());
    expect(plain.json<{ seats: unknown[] }>().seats).toHaveLength(8000);
  });

  it("when the event has no seats, 404", async () => {
    const response = await gateway.app.inject({ method: "GET", url: "/api/events/7002/seats" });
    expect(response.statusCode, response.body).toBe(404);
    expect(response.json().error.code).toBe("NOT_FOUND");
  });
});
