// Contracts of the events service: the catalogue (events, venues, sections, prices).
//
// Seats: inventory creates an event's seats from `event.updated.v1` on stream "events". There is no
// separate "created" event: every change publishes the whole event (status and sections included),
// so a consumer that sees an event with status "on_sale" for the first time creates its seats, and
// one that sees it again does nothing (idempotent by event id). Sections never change once an event
// is on sale (only draft events may change sections), so seats never have to move. "cancelled"
// tells inventory to stop selling. Delivery is at-least-once; `version` orders changes of one event.
import { defineMethod } from "@boxoffice/bus";
import { z } from "zod";
import {
  cursorSchema,
  defineFirehoseEvent,
  DEFAULT_PAGE_LIMIT,
  emptyRequestSchema,
  healthResponseSchema,
  idSchema,
  isoDateTimeSchema,
  MAX_PAGE_LIMIT,
  moneyCentsSchema,
} from "./common.ts";

/** The most seats one event may have (sum of rows × seatsPerRow over its sections). */
export const MAX_SEATS_PER_EVENT = 100_000;

export const eventStatusSchema = z.enum(["draft", "on_sale", "cancelled"]);
export type EventStatus = z.infer<typeof eventStatusSchema>;

export const sectionInputSchema = z.object({
  name: z.string().trim().min(1).max(100),
  rows: z.number().int().min(1).max(1000),
  seatsPerRow: z.number().int().min(1).max(1000),
  priceCents: moneyCentsSchema,
});
export type SectionInput = z.infer<typeof sectionInputSchema>;

const sectionsInputSchema = z
  .array(sectionInputSchema)
  .min(1)
  .max(100)
  .superRefine((sections, ctx) => {
    const seats = sections.reduce((sum, s) => sum + s.rows * s.seatsPerRow, 0);
    if (seats > MAX_SEATS_PER_EVENT) {
      ctx.addIssue({ code: "custom", message: `at most ${MAX_SEATS_PER_EVENT} seats per event (got ${seats})` });
    }
    const names = new Set<string>();
    sections.forEach((s, index) => {
      const key = s.name.toLowerCase();
      if (names.has(key)) ctx.addIssue({ code: "custom", path: [index, "name"], message: "section names must be unique" });
      names.add(key);
    });
  });

export const sectionSchema = z.object({
  id: idSchema,
  name: z.string(),
  rows: z.number().int(),
  seatsPerRow: z.number().int(),
  priceCents: moneyCentsSchema,
  /** rows × seatsPerRow; availability is inventory's (the gateway merges it in). */
  capacity: z.number().int(),
});
export type Section = z.infer<typeof sectionSchema>;

export const eventSchema = z.object({
  id: idSchema,
  organizerId: idSchema,
  title: z.string(),
  venue: z.string(),
  startsAt: isoDateTimeSchema,
  /** When holds open (v1.1); before it buyers wait in the pre-queue. Absent on events from before v1.1: on sale at creation. */
  salesStartAt: isoDateTimeSchema.optional(),
  status: eventStatusSchema,
  sections: z.array(sectionSchema),
  /** Sum of the sections' capacities. */
  capacity: z.number().int(),
  minPriceCents: moneyCentsSchema,
  /** Increases by one with every change; consumers ignore a version older than the one they hold. */
  version: z.number().int().min(1),
  createdAt: isoDateTimeSchema,
  updatedAt: isoDateTimeSchema,
});
export type CatalogueEvent = z.infer<typeof eventSchema>;

const titleSchema = z.string().trim().min(1).max(200);
const venueSchema = z.string().trim().min(1).max(200);

/** Organisers only (token with role "organizer"). A new event is on sale unless created as a draft. */
export const eventsCreateV1 = defineMethod({
  name: "events.create.v1",
  access: { services: ["gateway"] },
  request: z.object({
    title: titleSchema,
    venue: venueSchema,
    startsAt: isoDateTimeSchema,
    /** Default: now. Must be before startsAt. */
    salesStartAt: isoDateTimeSchema.optional(),
    sections: sectionsInputSchema,
    status: z.enum(["draft", "on_sale"]).default("on_sale"),
  }),
  response: z.object({ event: eventSchema }),
});

/**
 * The event's organiser only, before it starts and unless cancelled. Title, venue and start time
 * may change while on sale; sections only while a draft; `status: "on_sale"` puts a draft on sale.
 */
export const eventsUpdateV1 = defineMethod({
  name: "events.update.v1",
  access: { services: ["gateway"] },
  request: z.object({
    eventId: idSchema,
    title: titleSchema.optional(),
    venue: venueSchema.optional(),
    startsAt: isoDateTimeSchema.optional(),
    salesStartAt: isoDateTimeSchema.optional(),
    sections: sectionsInputSchema.optional(),
    status: z.literal("on_sale").optional(),
  }),
  response: z.object({ event: eventSchema }),
});

/** The event's organiser only; cancelling twice is harmless. */
export const eventsCancelV1 = defineMethod({
  name: "events.cancel.v1",
  access: { services: ["gateway"] },
  request: z.object({ eventId: idSchema }),
  response: z.object({ event: eventSchema }),
});

/** Upcoming events on sale, soonest first (ties by id); cursor pagination, no totals. */
export const eventsListV1 = defineMethod({
  name: "events.list.v1",
  access: { services: ["gateway", "inventory"] },
  request: z.object({
    limit: z.number().int().min(1).max(MAX_PAGE_LIMIT).default(DEFAULT_PAGE_LIMIT),
    cursor: cursorSchema.optional(),
  }),
  response: z.object({ events: z.array(eventSchema), nextCursor: cursorSchema.nullable() }),
});

/** One event in any status (NOT_FOUND when there is none). */
export const eventsGetV1 = defineMethod({
  name: "events.get.v1",
  access: { services: ["gateway", "inventory"] },
  request: z.object({ eventId: idSchema }),
  response: z.object({ event: eventSchema }),
});

export const eventsHealthV1 = defineMethod({
  name: "events.health.v1",
  request: emptyRequestSchema,
  response: healthResponseSchema,
});

export const eventsMethods = [eventsCreateV1, eventsUpdateV1, eventsCancelV1, eventsListV1, eventsGetV1, eventsHealthV1] as const;

export const EVENTS_STREAM = "events";

/** Every change of an event (create, update, cancel) on stream "events"; key = event id; data = the whole event. */
export const eventUpdatedV1 = defineFirehoseEvent({ type: "event.updated.v1", stream: EVENTS_STREAM, data: eventSchema });
