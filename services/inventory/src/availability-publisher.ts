// Publishes an event's availability after it changed: to the firehose (stream "inventory", at least
// once) and to the bus group of the event's live WebSockets (at most once). Changes within a short
// window are coalesced into one message carrying the latest state — the messages are states, not
// deltas, so nothing is lost by skipping the ones in between.
import type { ChannelLayer, Firehose } from "@boxoffice/bus";
import { eventLiveGroup, INVENTORY_STREAM, inventoryAvailabilityChangedV1 } from "@boxoffice/contracts";
import type { Logger } from "@boxoffice/runtime";
import { availabilityOf } from "./domain/holds.ts";
import type { AvailabilityNotifier, InventoryDeps } from "./domain/ports.ts";

export interface AvailabilityPublisher extends AvailabilityNotifier {
  /** Publishes whatever is pending now and stops taking changes. */
  close(): Promise<void>;
}

export function createAvailabilityPublisher(options: {
  layer: ChannelLayer;
  firehose: Firehose;
  logger: Logger;
  coalesceMs: number;
  shards: () => Pick<InventoryDeps, "shards">;
}): AvailabilityPublisher {
  const pending = new Map<string, ReturnType<typeof setTimeout>>();
  const inFlight = new Set<Promise<void>>();
  let closed = false;

  async function publish(eventId: string): Promise<void> {
    try {
      const availability = await availabilityOf(eventId, options.shards());
      await options.firehose.publish(INVENTORY_STREAM, {
        type: inventoryAvailabilityChangedV1.type,
        version: inventoryAvailabilityChangedV1.version,
        key: eventId,
        data: availability,
      });
      await options.layer.groupSend(eventLiveGroup(eventId), { type: "availability", ...availability });
    } catch (error) {
      options.logger.warn({ err: error, eventId }, "availability: publishing failed");
    }
  }

  function flush(eventId: string): void {
    pending.delete(eventId);
    const run = publish(eventId).finally(() => inFlight.delete(run));
    inFlight.add(run);
  }

  return {
    changed(eventId) {
      if (closed || pending.has(eventId)) return;
      pending.set(eventId, setTimeout(() => flush(eventId), options.coalesceMs));
    },
    async close() {
      closed = true;
      for (const [eventId, timer] of pending) {
        clearTimeout(timer);
        flush(eventId);
      }
      await Promise.all([...inFlight]);
    },
  };
}
