// Demo data for the embedded platform: a buyer account and a handful of events, one of them a
// large "hot" on-sale. Created through the services' public RPC methods (as a client would), and
// idempotent: an existing account or an event with the same title is left alone.
import type { ChannelLayer } from "@boxoffice/bus";
import { createRpcClient, RpcError, type ServiceIdentity } from "@boxoffice/bus";
import { eventsCreateV1, eventsListV1, usersLoginV1, usersRegisterV1 } from "@boxoffice/contracts";

export const DEMO_ORGANIZER = { email: "organizer@boxoffice.test", password: "organizer-password" };
/** Seeded by the users service beside the organiser (SEED_DEMO); sees the operator console. */
export const DEMO_OPERATOR = { email: "operator@boxoffice.test", password: "operator-password" };
export const DEMO_BUYER = { email: "buyer@boxoffice.test", password: "buyer-password", displayName: "Demo Buyer" };
export const HOT_EVENT_TITLE = "The Big On-Sale: Stadium Night";

export interface DemoEvent {
  title: string;
  venue: string;
  daysFromNow: number;
  /** Holds open this many minutes after the demo data is created (default: at once). */
  salesOpenInMinutes?: number;
  sections: Array<{ name: string; rows: number; seatsPerRow: number; priceCents: number }>;
}

export const DEMO_EVENTS: DemoEvent[] = [
  {
    title: HOT_EVENT_TITLE,
    venue: "Riverside Stadium",
    daysFromNow: 30,
    // Opens a few minutes after the first start, so a newcomer sees the waiting room's pre-queue.
    salesOpenInMinutes: 3,
    // 20,000 seats.
    sections: [
      { name: "Floor", rows: 50, seatsPerRow: 100, priceCents: 12_000 },
      { name: "Lower Bowl", rows: 75, seatsPerRow: 100, priceCents: 8_500 },
      { name: "Upper Bowl", rows: 75, seatsPerRow: 100, priceCents: 4_500 },
    ],
  },
  {
    title: "String Quartet at Dusk",
    venue: "The Old Chapel",
    daysFromNow: 7,
    sections: [
      { name: "Nave", rows: 8, seatsPerRow: 12, priceCents: 3_500 },
      { name: "Gallery", rows: 3, seatsPerRow: 10, priceCents: 2_000 },
    ],
  },
  {
    title: "Late Night Comedy",
    venue: "Basement Club",
    daysFromNow: 10,
    sections: [{ name: "Tables", rows: 6, seatsPerRow: 10, priceCents: 2_500 }],
  },
  {
    title: "Indie Rock Showcase",
    venue: "Harbour Hall",
    daysFromNow: 14,
    sections: [
      { name: "Stalls", rows: 12, seatsPerRow: 20, priceCents: 4_000 },
      { name: "Circle", rows: 6, seatsPerRow: 18, priceCents: 3_000 },
    ],
  },
  {
    title: "Jazz Brunch",
    venue: "Garden Terrace",
    daysFromNow: 21,
    sections: [{ name: "Terrace", rows: 5, seatsPerRow: 8, priceCents: 4_500 }],
  },
];

async function existingTitles(rpc: ReturnType<typeof createRpcClient>): Promise<Set<string>> {
  const titles = new Set<string>();
  let cursor: string | undefined;
  for (let page = 0; page < 50; page++) {
    const result = await rpc.call(eventsListV1, { limit: 100, cursor });
    for (const event of result.events) titles.add(event.title);
    if (!result.nextCursor) break;
    cursor = result.nextCursor;
  }
  return titles;
}

/** Creates whatever demo data is missing; returns the titles it created. */
/** `identity`: on a bus whose services verify callers, the seed calls as the front end it stands in for. */
export async function seedDemoData(layer: ChannelLayer, events: DemoEvent[] = DEMO_EVENTS, identity?: ServiceIdentity): Promise<string[]> {
  const rpc = createRpcClient({ layer, service: identity?.service ?? "platform-seed", defaultDeadlineMs: 30_000, identity });
  try {
    try {
      await rpc.call(usersRegisterV1, DEMO_BUYER);
    } catch (error) {
      if (!(error instanceof RpcError && error.code === "EMAIL_TAKEN")) throw error;
    }
    const { token } = await rpc.call(usersLoginV1, DEMO_ORGANIZER);
    const titles = await existingTitles(rpc);
    const created: string[] = [];
    for (const event of events) {
      if (titles.has(event.title)) continue;
      const startsAt = new Date(Date.now() + event.daysFromNow * 86_400_000);
      startsAt.setUTCHours(19, 30, 0, 0);
      const salesStartAt = event.salesOpenInMinutes === undefined ? undefined : new Date(Date.now() + event.salesOpenInMinutes * 60_000).toISOString();
      await rpc.call(eventsCreateV1, { title: event.title, venue: event.venue, startsAt: startsAt.toISOString(), salesStartAt, sections: event.sections, status: "on_sale" }, { token });
      created.push(event.title);
    }
    return created;
  } finally {
    await rpc.close();
  }
}
