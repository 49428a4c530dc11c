import { RpcError, type Firehose } from "@boxoffice/bus";
import { eventsCancelV1, eventsCreateV1, eventsGetV1, eventsHealthV1, eventsListV1, eventsUpdateV1, eventUpdatedV1, type CatalogueEvent } from "@boxoffice/contracts";
import { waitFor } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEvents, targets, type EventsHarness } from "./fixture.ts";

async function failure(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RpcError) return error;
    throw error;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

const inDays = (days: number, minutes = 0) => new Date(Date.now() + days * 86_400_000 + minutes * 60_000).toISOString();

const concert = (overrides: Record<string, unknown> = {}) => ({
  title: "Night at the Opera",
  venue: "Royal Hall",
  startsAt: inDays(30),
  sections: [
    { name: "Stalls", rows: 10, seatsPerRow: 20, priceCents: 5000 },
    { name: "Balcony", rows: 5, seatsPerRow: 10, priceCents: 2500 },
  ],
  ...overrides,
});

describe.each(targets)("events service on $name", (target) => {
  let h: EventsHarness;
  let organizer: string;
  beforeAll(async () => {
    if (!target.available) return;
    h = await startEvents(target);
    organizer = await h.tokenFor("7001", "organizer");
  });
  afterAll(async () => {
    await h?.close();
  });

  const publishedVersions = (eventId: string) => h.published.filter((e) => e.key === eventId).map((e) => e.data.version);

  describe.skipIf(!target.available)("catalogue", () => {
    it("when an organiser creates an event, it is on sale with per-section capacity and anyone can read it", async () => {
      const { event } = await h.client.call(eventsCreateV1, concert(), { token: organizer });
      expect(event).toMatchObject({ status: "on_sale", organizerId: "7001", capacity: 250, minPriceCents: 2500, version: 1 });
      expect(event.sections.map((s) => [s.name, s.capacity])).toEqual([["Stalls", 200], ["Balcony", 50]]);
      expect(new Set(event.sections.map((s) => s.id)).size).toBe(2);
      const read = await h.client.call(eventsGetV1, { eventId: event.id });
      expect(read.event).toEqual(event);
    });

    it("when an event is created, event.updated.v1 with the whole event reaches the firehose for inventory", async () => {
      const { event } = await h.client.call(eventsCreateV1, concert({ title: "Seats for inventory" }), { token: organizer });
      const seen = await waitFor(() => h.published.find((e) => e.key === event.id), { what: "the event on the firehose" });
      expect(seen.type).toBe(eventUpdatedV1.type);
      expect(seen.version).toBe(1);
      expect(seen.id).toBe(`${event.id}:v1`);
      expect(eventUpdatedV1.data.parse(seen.data)).toEqual(event);
    });

    it("when an organiser sets salesStartAt, the event keeps and publishes it; without one it opens at creation; after startsAt it is refused", async () => {
      const opens = inDays(0, 10);
      const { event } = await h.client.call(eventsCreateV1, concert({ title: "Opens later", salesStartAt: opens }), { token: organizer });
      expect(event.salesStartAt).toBe(opens);
      expect((await h.client.call(eventsGetV1, { eventId: event.id })).event.salesStartAt).toBe(opens);
      const seen = await waitFor(() => h.published.find((e) => e.key === event.id), { what: "the event on the firehose" });
      expect(seen.data.salesStartAt).toBe(opens);
      const plain = (await h.client.call(eventsCreateV1, concert(), { token: organizer })).event;
      expect(plain.salesStartAt).toBe(plain.createdAt);
      const late = await failure(h.client.call(eventsCreateV1, concert({ startsAt: inDays(1), salesStartAt: inDays(2) }), { token: organizer }));
      expect(late.code).toBe("VALIDATION_FAILED");
      expect(JSON.stringify(late.details)).toContain("salesStartAt");
      const moved = inDays(0, 20);
      expect((await h.client.call(eventsUpdateV1, { eventId: event.id, salesStartAt: moved }, { token: organizer })).event.salesStartAt).toBe(moved);
    });

    it("when a buyer or an anonymous caller tries to create an event, it is FORBIDDEN or UNAUTHENTICATED", async () => {
      const buyer = await h.tokenFor("7002", "buyer");
      expect((await failure(h.client.call(eventsCreateV1, concert(), { token: buyer }))).code).toBe("FORBIDDEN");
      expect((await failure(h.client.call(eventsCreateV1, concert()))).code).toBe("UNAUTHENTICATED");
      expect((await failure(h.client.call(eventsCreateV1, concert(), { token: "forged.token.here" }))).code).toBe("UNAUTHENTICATED");
    });

    it("when the organiser updates an event before it starts, the change is saved and published as a new version", async () => {
      const { event } = await h.client.call(eventsCreateV1, concert(), { token: organizer });
      const later = inDays(31);
      const { event: updated } = await h.client.call(eventsUpdateV1, { eventId: event.id, title: "Moved", startsAt: later }, { token: organizer });
      expect(updated).toMatchObject({ title: "Moved", startsAt: new Date(later).toISOString(), version: 2, sections: event.sections });
      await waitFor(() => publishedVersions(event.id).includes(2), { what: "version 2 on the firehose" });

      const moveSeats = await failure(
        h.client.call(eventsUpdateV1, { eventId: event.id, sections: [{ name: "All", rows: 1, seatsPerRow: 5, priceCents: 100 }] }, { token: organizer }),
      );
      expect(moveSeats.code).toBe("EVENT_NOT_EDITABLE");
      const stranger = await h.tokenFor("7999", "organizer");
      expect((await failure(h.client.call(eventsUpdateV1, { eventId: event.id, title: "Mine now" }, { token: stranger }))).code).toBe("FORBIDDEN");
    });

    it("when a draft changes its sections and then goes on sale, the published event has the new sections", async () => {
      const { event } = await h.client.call(eventsCreateV1, concert({ status: "draft" }), { token: organizer });
      expect(event.status).toBe("draft");
      const sections = [{ name: "Floor", rows: 2, seatsPerRow: 3, priceCents: 1500 }];
      await h.client.call(eventsUpdateV1, { eventId: event.id, sections }, { token: organizer });
      const { event: onSale } = await h.client.call(eventsUpdateV1, { eventId: event.id, status: "on_sale" }, { token: organizer });
      expect(onSale).toMatchObject({ status: "on_sale", capacity: 6, minPriceCents: 1500, version: 3 });
      const seen = await waitFor(() => h.published.find((e) => e.key === event.id && e.data.version === 3), { what: "the on-sale version" });
      expect(seen.data.sections.map((s) => s.name)).toEqual(["Floor"]);
    });

    it("when an event is cancelled, it leaves the list, cannot be edited, and cancelling again changes nothing", async () => {
      const { event } = await h.client.call(eventsCreateV1, concert({ startsAt: inDays(1) }), { token: organizer });
      const { event: cancelled } = await h.client.call(eventsCancelV1, { eventId: event.id }, { token: organizer });
      expect(cancelled).toMatchObject({ status: "cancelled", version: 2 });
      const again = await h.client.call(eventsCancelV1, { eventId: event.id }, { token: organizer });
      expect(again.event.version).toBe(2);
      expect((await failure(h.client.call(eventsUpdateV1, { eventId: event.id, title: "Back" }, { token: organizer }))).code).toBe("EVENT_NOT_EDITABLE");
      await waitFor(() => publishedVersions(event.id).includes(2), { what: "the cancellation on the firehose" });
      const ids = await allListedIds(h);
      expect(ids).not.toContain(event.id);
    });

    it("when buyers page through upcoming events, every event appears once, soonest first, ties by id, and the last page has no cursor", async () => {
      const startsAt = inDays(3);
      const created: CatalogueEvent[] = [];
      for (let i = 0; i < 7; i++) {
        // Three share one start time, so the id decides their order.
        const when = i < 3 ? startsAt : inDays(2, i);
        created.push((await h.client.call(eventsCreateV1, concert({ title: `Show ${i}`, startsAt: when }), { token: organizer })).event);
      }
      const pages: CatalogueEvent[][] = [];
      let cursor: string | undefined;
      do {
        const page = await h.client.call(eventsListV1, { limit: 3, cursor });
        expect(page.events.length).toBeLessThanOrEqual(3);
        pages.push(page.events);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      const listed = pages.flat();
      expect(new Set(listed.map((e) => e.id)).size).toBe(listed.length);
      for (const event of created) expect(listed.map((e) => e.id)).toContain(event.id);
      const sorted = [...listed].sort((a, b) => Date.parse(a.startsAt) - Date.parse(b.startsAt) || (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
      expect(listed.map((e) => e.id)).toEqual(sorted.map((e) => e.id));
      expect(listed.every((e) => e.status === "on_sale" && Date.parse(e.startsAt) > Date.now())).toBe(true);
    });

    it("when the cursor is not one the service issued, the list answers VALIDATION_FAILED naming the cursor", async () => {
      for (const cursor of ["garbage!", Buffer.from(JSON.stringify({ s: "yesterday", i: "x" })).toString("base64url")]) {
        const error = await failure(h.client.call(eventsListV1, { limit: 5, cursor }));
        expect(error.code).toBe("VALIDATION_FAILED");
        expect(JSON.stringify(error.details)).toMatch(/cursor/);
      }
    });

    it("when input is malformed, each method answers VALIDATION_FAILED naming the fields", async () => {
      const cases: Array<[() => Promise<unknown>, RegExp]> = [
        [() => h.client.call(eventsCreateV1, concert({ sections: [] }), { token: organizer }), /sections/],
        [() => h.client.call(eventsCreateV1, concert({ sections: [{ name: "Huge", rows: 1000, seatsPerRow: 101, priceCents: 1 }] }), { token: organizer }), /100000|seats/],
        [() => h.client.call(eventsCreateV1, concert({ startsAt: "2020-01-01T00:00:00Z" }), { token: organizer }), /startsAt/],
        [() => h.client.call(eventsCreateV1, concert({ title: 42 }) as never, { token: organizer }), /title/],
        [() => h.client.call(eventsGetV1, { eventId: "../etc" }), /eventId/],
        [() => h.client.call(eventsListV1, { limit: 0 }), /limit/],
        [() => h.client.call(eventsUpdateV1, { eventId: "1", startsAt: "soon" }, { token: organizer }), /startsAt/],
        [() => h.client.call(eventsCancelV1, {} as never, { token: organizer }), /eventId/],
      ];
      for (const [call, field] of cases) {
        const error = await failure(call());
        expect(error.code).toBe("VALIDATION_FAILED");
        expect(JSON.stringify(error.details)).toMatch(field);
      }
    });

    it("when the event does not exist, reading, updating and cancelling it answer NOT_FOUND", async () => {
      expect((await failure(h.client.call(eventsGetV1, { eventId: "123456789" }))).code).toBe("NOT_FOUND");
      // Ids that could never have been minted (letters, beyond 63 bits) are simply not found.
      for (const eventId of ["abc", "99999999999999999999999"]) {
        expect((await failure(h.client.call(eventsGetV1, { eventId }))).code).toBe("NOT_FOUND");
        expect((await failure(h.client.call(eventsCancelV1, { eventId }, { token: organizer }))).code).toBe("NOT_FOUND");
      }
      expect((await failure(h.client.call(eventsUpdateV1, { eventId: "123456789", title: "x" }, { token: organizer }))).code).toBe("NOT_FOUND");
      expect((await failure(h.client.call(eventsCancelV1, { eventId: "123456789" }, { token: organizer }))).code).toBe("NOT_FOUND");
    });

    it("when the firehose is down at the time of a change, the change is published after a restart", async () => {
      const broken: Firehose = {
        publish: async () => {
          throw new Error("firehose unreachable");
        },
        subscribe: (...args) => h.firehose.subscribe(...args),
        consume: (...args) => h.firehose.consume(...args),
        close: async () => {},
      };
      for (const instance of [...h.instances]) await h.stopInstance(instance);
      const crippled = await h.startInstance({ firehose: broken });
      const { event } = await h.client.call(eventsCreateV1, concert({ title: "Survives restarts" }), { token: organizer });
      await h.stopInstance(crippled);
      expect(publishedVersions(event.id)).toEqual([]);
      await h.startInstance();
      await waitFor(() => publishedVersions(event.id).includes(1), { what: "the stuck outbox row to be republished" });
    });

    it("when two instances relay the outbox at once, each change is published once", async () => {
      await h.startInstance();
      const events = await Promise.all(
        Array.from({ length: 12 }, (_, i) => h.client.call(eventsCreateV1, concert({ title: `Pair ${i}` }), { token: organizer })),
      );
      await waitFor(() => events.every(({ event }) => publishedVersions(event.id).length > 0), { what: "every event published" });
      // Grace for late duplicates: a change made after them is published after several polls of both
      // relays (50 ms each here), and a duplicate of an earlier one would have had those polls too.
      const { event: later } = await h.client.call(eventsCreateV1, concert({ title: "Later" }), { token: organizer });
      await waitFor(() => publishedVersions(later.id).length > 0, { what: "the later event published" });
      await new Promise((resolve) => setTimeout(resolve, 500));
      for (const { event } of [...events, { event: later }]) expect(publishedVersions(event.id), `versions of ${event.title} on the firehose`).toEqual([1]);
    });

    it("when asked for health, it reports the bus and every shard reachable", async () => {
      const health = await h.client.call(eventsHealthV1, {});
      expect(health).toMatchObject({ service: "events", ok: true, bus: true });
      expect(health.shards).toHaveLength(2);
    });
  });
});

async function allListedIds(h: EventsHarness): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await h.client.call(eventsListV1, { limit: 50, cursor });
    ids.push(...page.events.map((e) => e.id));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return ids;
}
