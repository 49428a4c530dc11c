// Live availability for WebSockets. One process-local channel per watched event joins the bus
// group `event-<id>`; whatever inventory sends to the group arrives once per gateway instance and
// is fanned out here to that instance's sockets. The channel leaves the group with its last socket.
// Gateways add the orders they confirm (`sale`), which only organisers' sockets pass on.
import type { ChannelLayer } from "@boxoffice/bus";
import { z } from "zod";
import { availabilityMessageSchema, eventLiveGroup, saleMessageSchema, type AvailabilityMessage, type SaleMessage } from "@boxoffice/contracts";

export type LiveMessage = AvailabilityMessage | SaleMessage;

export interface LiveListener {
  (message: LiveMessage): void;
}

export interface LiveHub {
  /** Starts forwarding `event-<eventId>` messages to `listener`; the returned function stops. */
  watch(eventId: string, listener: LiveListener): Promise<() => Promise<void>>;
  /** Sends a confirmed order to the event's group (every gateway's organiser sockets); never throws. */
  announceSale(message: SaleMessage): Promise<void>;
  close(): Promise<void>;
}

const liveMessageSchema = z.discriminatedUnion("type", [availabilityMessageSchema, saleMessageSchema]);

interface Watch {
  readonly channel: string;
  readonly listeners: Set<LiveListener>;
  readonly abort: AbortController;
  readonly ready: Promise<void>;
  refresh?: NodeJS.Timeout;
}

export function createLiveHub(options: { layer: ChannelLayer; logger?: { warn(obj: object, msg: string): void }; groupRefreshMs?: number }): LiveHub {
  const { layer, logger } = options;
  const watches = new Map<string, Watch>();
  // Group memberships expire (a day by default); re-adding keeps a long-watched event joined.
  const refreshMs = options.groupRefreshMs ?? 3600_000;

  async function pump(eventId: string, watch: Watch): Promise<void> {
    try {
      await watch.ready;
    } catch {
      // The bus is down: whoever asked for the watch gets the rejection from watch(); nothing to pump.
      return;
    }
    while (!watch.abort.signal.aborted) {
      let message: unknown;
      try {
        message = await layer.receive(watch.channel, { signal: watch.abort.signal });
      } catch (error) {
        if (watch.abort.signal.aborted) return;
        logger?.warn({ err: error, eventId }, "live availability receive failed; retrying");
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      }
      const parsed = liveMessageSchema.safeParse(message);
      if (!parsed.success || parsed.data.eventId !== eventId) continue;
      for (const listener of watch.listeners) listener(parsed.data);
    }
  }

  async function start(eventId: string): Promise<Watch> {
    const channel = await layer.newChannel("gateway-live");
    const watch: Watch = {
      channel,
      listeners: new Set(),
      abort: new AbortController(),
      ready: layer.groupAdd(eventLiveGroup(eventId), channel),
    };
    watch.refresh = setInterval(() => void layer.groupAdd(eventLiveGroup(eventId), channel).catch(() => {}), refreshMs);
    watch.refresh.unref();
    pump(eventId, watch).catch((error: unknown) => logger?.warn({ err: error, eventId }, "live availability pump stopped"));
    return watch;
  }

  async function stop(eventId: string, watch: Watch): Promise<void> {
    watches.delete(eventId);
    clearInterval(watch.refresh);
    watch.abort.abort();
    await layer.groupDiscard(eventLiveGroup(eventId), watch.channel).catch(() => {});
  }

  const starting = new Map<string, Promise<Watch>>();

  return {
    async watch(eventId, listener) {
      let watch = watches.get(eventId);
      if (!watch) {
        let pending = starting.get(eventId);
        if (!pending) {
          pending = start(eventId).finally(() => starting.delete(eventId));
          starting.set(eventId, pending);
        }
        watch = await pending;
        watches.set(eventId, watch);
      }
      watch.listeners.add(listener);
      const current = watch;
      try {
        await current.ready;
      } catch (error) {
        // Joining the group failed (bus down): forget this watch so the next socket tries afresh.
        current.listeners.delete(listener);
        if (watches.get(eventId) === current) await stop(eventId, current);
        throw error;
      }
      return async () => {
        current.listeners.delete(listener);
        if (current.listeners.size === 0 && watches.get(eventId) === current) await stop(eventId, current);
      };
    },
    async announceSale(message) {
      await layer.groupSend(eventLiveGroup(message.eventId), message).catch((error: unknown) => logger?.warn({ err: error, eventId: message.eventId }, "could not announce a sale to live sockets"));
    },
    async close() {
      await Promise.all([...watches.entries()].map(([eventId, watch]) => stop(eventId, watch)));
    },
  };
}
