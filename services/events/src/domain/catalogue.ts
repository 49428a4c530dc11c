// The events service's use cases: organisers create, update and cancel events; anyone lists the
// upcoming ones and reads one. Plain functions of (input, deps); no transport, no SQL.
import type { CatalogueEvent, EventStatus, Section, SectionInput } from "@boxoffice/contracts";
import { eventUpdatedV1 } from "@boxoffice/contracts";
import type { Identity } from "@boxoffice/identity";
import { decodeId } from "@boxoffice/sharding";
import { eventNotFound, invalidField, notEditable, notTheOrganizer } from "../errors.ts";
import type { EventsStore, ListPosition, ShardSql } from "../store/events-store.ts";
import { decodeListCursor, encodeListCursor } from "./list-cursor.ts";

export interface CatalogueDeps {
  store: EventsStore;
  newEventId(): string;
  sectionIdOf(eventId: string): string;
  now(): Date;
  /** Called after a write commits, so the outbox relay publishes at once instead of at its next poll. */
  onWritten?(): void;
}

/** An id this service could never have minted names no event: NOT_FOUND, not a database error. */
function requireEventIdShape(eventId: string): void {
  try {
    decodeId(eventId);
  } catch {
    throw eventNotFound(eventId);
  }
}

function buildSections(eventId: string, inputs: SectionInput[], deps: Pick<CatalogueDeps, "sectionIdOf">): Section[] {
  return inputs.map((s) => ({ id: deps.sectionIdOf(eventId), name: s.name, rows: s.rows, seatsPerRow: s.seatsPerRow, priceCents: s.priceCents, capacity: s.rows * s.seatsPerRow }));
}

function totals(sections: Section[]) {
  return {
    capacity: sections.reduce((sum, s) => sum + s.capacity, 0),
    minPriceCents: Math.min(...sections.map((s) => s.priceCents)),
  };
}

function requireFuture(startsAt: string, now: Date): string {
  const at = new Date(startsAt);
  if (at.getTime() <= now.getTime()) throw invalidField("startsAt", "must be in the future");
  return at.toISOString();
}

/** Holds open at `salesStartAt` (default: now), which must come before the event starts. */
function salesStart(salesStartAt: string | undefined, startsAt: string, fallback: Date): string {
  const at = salesStartAt === undefined ? fallback : new Date(salesStartAt);
  if (at.getTime() >= Date.parse(startsAt)) throw invalidField("salesStartAt", "must be before startsAt");
  return at.toISOString();
}

export async function createEvent(
  input: { title: string; venue: string; startsAt: string; salesStartAt?: string; sections: SectionInput[]; status: "draft" | "on_sale" },
  organizer: Identity,
  deps: CatalogueDeps,
): Promise<CatalogueEvent> {
  const now = deps.now();
  const id = deps.newEventId();
  const sections = buildSections(id, input.sections, deps);
  const event: CatalogueEvent = {
    id,
    organizerId: organizer.userId,
    title: input.title,
    venue: input.venue,
    startsAt: requireFuture(input.startsAt, now),
    salesStartAt: salesStart(input.salesStartAt, input.startsAt, now),
    status: input.status,
    sections,
    ...totals(sections),
    version: 1,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
  };
  await deps.store.insert(event, eventUpdatedV1.type);
  deps.onWritten?.();
  return event;
}

export async function updateEvent(
  input: { eventId: string; title?: string; venue?: string; startsAt?: string; salesStartAt?: string; sections?: SectionInput[]; status?: "on_sale" },
  organizer: Identity,
  deps: CatalogueDeps,
): Promise<CatalogueEvent> {
  requireEventIdShape(input.eventId);
  const now = deps.now();
  const startsAt = input.startsAt === undefined ? undefined : requireFuture(input.startsAt, now);
  const updated = await deps.store.mutate(input.eventId, eventUpdatedV1.type, (current) => {
    if (current.organizerId !== organizer.userId) throw notTheOrganizer();
    if (current.status === "cancelled") throw notEditable("the event is cancelled");
    if (Date.parse(current.startsAt) <= now.getTime()) throw notEditable("the event has started");
    // Seats are created from the sections once an event is on sale; moving them would strand holds.
    if (input.sections && current.status !== "draft") throw notEditable("sections can only change while the event is a draft");
    const sections = input.sections ? buildSections(current.id, input.sections, deps) : current.sections;
    const status: EventStatus = input.status ?? current.status;
    return {
      ...current,
      title: input.title ?? current.title,
      venue: input.venue ?? current.venue,
      startsAt: startsAt ?? current.startsAt,
      salesStartAt: input.salesStartAt === undefined && startsAt === undefined
        ? current.salesStartAt
        : salesStart(input.salesStartAt ?? current.salesStartAt ?? current.createdAt, startsAt ?? current.startsAt, now),
      status,
      sections,
      ...totals(sections),
      version: current.version + 1,
      updatedAt: now.toISOString(),
    };
  });
  if (!updated) throw eventNotFound(input.eventId);
  deps.onWritten?.();
  return updated;
}

/** Cancelling an already cancelled event changes nothing and publishes nothing. */
export async function cancelEvent(input: { eventId: string }, organizer: Identity, deps: CatalogueDeps): Promise<CatalogueEvent> {
  requireEventIdShape(input.eventId);
  const now = deps.now();
  const cancelled = await deps.store.mutate(input.eventId, eventUpdatedV1.type, (current) => {
    if (current.organizerId !== organizer.userId) throw notTheOrganizer();
    if (current.status === "cancelled") return undefined;
    return { ...current, status: "cancelled", version: current.version + 1, updatedAt: now.toISOString() };
  });
  if (!cancelled) throw eventNotFound(input.eventId);
  deps.onWritten?.();
  return cancelled;
}

export async function getEvent(input: { eventId: string }, deps: Pick<CatalogueDeps, "store">): Promise<CatalogueEvent> {
  requireEventIdShape(input.eventId);
  const event = await deps.store.findById(input.eventId, { read: true });
  if (!event) throw eventNotFound(input.eventId);
  return event;
}

function compareEvents(a: CatalogueEvent, b: CatalogueEvent): number {
  const byTime = Date.parse(a.startsAt) - Date.parse(b.startsAt);
  if (byTime !== 0) return byTime;
  const [x, y] = [BigInt(a.id), BigInt(b.id)];
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Upcoming events on sale, soonest first, ties broken by id: every shard returns its first
 * `limit + 1` after the cursor, the pages are merged, and the extra row says whether there is more.
 */
export async function listEvents(
  input: { limit: number; cursor?: string },
  deps: Pick<CatalogueDeps, "store" | "now"> & { shards(): ShardSql[] },
): Promise<{ events: CatalogueEvent[]; nextCursor: string | null }> {
  const after: ListPosition | undefined = input.cursor === undefined ? undefined : decodeListCursor(input.cursor);
  const now = deps.now();
  const pages = await Promise.all(deps.shards().map((shard) => deps.store.listUpcoming(shard, { now, after, limit: input.limit + 1 })));
  // While a logical shard moves, its frozen old copy and the new one both answer: keep each event once.
  const merged = pages
    .flat()
    .sort(compareEvents)
    .filter((event, i, all) => i === 0 || all[i - 1].id !== event.id)
    .slice(0, input.limit + 1);
  const events = merged.slice(0, input.limit);
  const last = events[events.length - 1];
  return { events, nextCursor: merged.length > input.limit && last ? encodeListCursor({ startsAt: last.startsAt, id: last.id }) : null };
}
