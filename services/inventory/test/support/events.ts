// Catalogue events as the events service publishes them (event.updated.v1 data), for seeding.
import { randomUUID } from "node:crypto";
import type { CatalogueEvent } from "@boxoffice/contracts";
import { createIdGenerator } from "@boxoffice/sharding";

const ids = createIdGenerator({ nodeId: 30 });

export function catalogueEvent(sections: Array<{ name: string; rows: number; seatsPerRow: number; priceCents: number }>): CatalogueEvent {
  const id = ids.forKey(randomUUID());
  const now = new Date().toISOString();
  return {
    id,
    organizerId: "1",
    title: "Test event",
    venue: "Test hall",
    startsAt: new Date(Date.now() + 86_400_000).toISOString(),
    status: "on_sale",
    sections: sections.map((s) => ({ ...s, id: ids.childOf(id), capacity: s.rows * s.seatsPerRow })),
    capacity: sections.reduce((sum, s) => sum + s.rows * s.seatsPerRow, 0),
    minPriceCents: Math.min(...sections.map((s) => s.priceCents)),
    version: 1,
    createdAt: now,
    updatedAt: now,
  };
}
