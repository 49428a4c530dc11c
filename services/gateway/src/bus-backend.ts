// The gateway's backend over the bus: every HTTP call becomes one or two RPC calls through the
// contracts, each with a deadline, the caller's token where a service checks identity, and a
// latency sample. Catalogue pages merge the events service (what) with inventory (how many left).
import { createRpcClient, RpcError, RpcErrorCodes, type ChannelLayer, type MethodDef, type RpcClient, type ServiceIdentity } from "@boxoffice/bus";
import { Counter, Gauge } from "prom-client";
import {
  eventsCreateV1,
  eventsGetV1,
  eventsHealthV1,
  eventsListV1,
  inventoryAvailabilitiesV1,
  inventoryAvailabilityV1,
  inventoryGetOrderV1,
  inventoryHealthV1,
  inventoryHoldV1,
  inventoryOrdersV1,
  inventoryOrderV1,
  inventoryReleaseV1,
  inventorySeatsV1,
  MAX_SEAT_PAGE_LIMIT,
  paymentsHealthV1,
  usersHealthV1,
  usersLoginV1,
  usersRefreshV1,
  usersRevokeV1,
  usersRegisterV1,
  type Availability,
  type CatalogueEvent,
  type HttpEvent,
  type Seat,
} from "@boxoffice/contracts";
import type { CallOptions, GatewayBackend } from "./backend.ts";
import type { GatewayMetrics } from "./metrics.ts";

/** 100,000 seats (the most an event has) are 20 full pages; far more means a cursor that loops. */
const MAX_SEAT_PAGES = 100;

export interface BusBackendOptions {
  readonly layer: ChannelLayer;
  readonly deadlineMs: number;
  readonly metrics?: GatewayMetrics;
  /** The gateway's service identity: proofs on every request (SERVICE_IDENTITY_SECRET). */
  readonly identity?: ServiceIdentity;
}

export interface BusBackend extends GatewayBackend {
  close(): Promise<void>;
}

function toHttpEvent(event: CatalogueEvent, availability: Availability | undefined): HttpEvent {
  const bySection = new Map(availability?.sections.map((s) => [s.id, s.available]));
  // Before inventory has created the seats (a moment after creation) nothing is sellable yet.
  return {
    id: event.id,
    title: event.title,
    venue: event.venue,
    startsAt: event.startsAt,
    // Events from before v1.1 went on sale when they were created.
    salesStartAt: event.salesStartAt ?? event.createdAt,
    status: event.status,
    organizerId: event.organizerId,
    available: availability?.available ?? 0,
    sections: event.sections.map((s) => ({
      id: s.id,
      name: s.name,
      priceCents: s.priceCents,
      capacity: s.capacity,
      rows: s.rows,
      seatsPerRow: s.seatsPerRow,
      available: bySection.get(s.id) ?? 0,
    })),
  };
}

export function createBusBackend(options: BusBackendOptions): BusBackend {
  const rpc: RpcClient = createRpcClient({ layer: options.layer, service: "gateway", defaultDeadlineMs: options.deadlineMs, identity: options.identity });
  const metrics = options.metrics;
  if (metrics) {
    new Gauge({
      name: "gateway_bus_calls_waiting_for_room",
      help: "Checkout calls waiting in line for room in a full request channel (a service busier than its channel holds)",
      registers: [metrics.registry],
      collect() {
        this.set(rpc.waitingForRoom);
      },
    });
    new Counter({
      name: "gateway_bus_calls_waited_for_room_total",
      help: "Checkout calls that found their request channel full and waited in line for room",
      registers: [metrics.registry],
      collect() {
        this.reset();
        this.inc(rpc.waitedForRoom);
      },
    });
  }

  /**
   * `waitForCapacity`: a call that finds its request channel full waits in line (this gateway's
   * calls to that channel, oldest first) until the deadline instead of failing BUSY at once. Only for checkout's calls: an admitted buyer's hold or order in a
   * burst is better served a few hundred milliseconds late than sent away for Retry-After seconds (a
   * refused message was never delivered, so the retry cannot act twice). The room's controller still
   * sees the wait as latency and admits fewer.
   */
  async function call<Req, Res>(method: MethodDef<Req, Res>, input: Req, callOptions: CallOptions = {}, waitForCapacity = false): Promise<Res> {
    const started = performance.now();
    let outcome = "ok";
    try {
      return await rpc.call(method, input, { deadlineMs: options.deadlineMs, token: callOptions.token, waitForCapacity });
    } catch (error) {
      outcome = typeof (error as { code?: unknown }).code === "string" ? (error as { code: string }).code : "error";
      throw error;
    } finally {
      metrics?.busCallDuration.observe({ method: method.name, outcome }, (performance.now() - started) / 1000);
    }
  }

  async function availabilityOf(eventId: string): Promise<Availability | undefined> {
    try {
      return await call(inventoryAvailabilityV1, { eventId });
    } catch (error) {
      if ((error as { code?: unknown }).code === "NOT_FOUND") return undefined;
      throw error;
    }
  }

  return {
    async signUp(input) {
      return (await call(usersRegisterV1, input)).user;
    },
    async signIn(input) {
      const result = await call(usersLoginV1, input);
      return {
        user: result.user,
        token: result.token,
        tokenExpiresAt: Date.parse(result.expiresAt),
        refreshToken: result.refreshToken,
        refreshExpiresAt: result.refreshExpiresAt === undefined ? undefined : Date.parse(result.refreshExpiresAt),
      };
    },
    async refresh(refreshToken) {
      const result = await call(usersRefreshV1, { refreshToken });
      return {
        user: result.user,
        token: result.token,
        tokenExpiresAt: Date.parse(result.expiresAt),
        refreshToken: result.refreshToken,
        refreshExpiresAt: result.refreshExpiresAt === undefined ? undefined : Date.parse(result.refreshExpiresAt),
      };
    },
    async revokeRefreshToken(refreshToken) {
      await call(usersRevokeV1, { refreshToken });
    },
    async listEvents(input) {
      const page = await call(eventsListV1, input);
      const ids = page.events.map((e) => e.id);
      const availabilities = ids.length === 0 ? [] : (await call(inventoryAvailabilitiesV1, { eventIds: ids })).events;
      const byEvent = new Map(availabilities.map((a) => [a.eventId, a.available]));
      return {
        events: page.events.map((e) => ({
          id: e.id,
          title: e.title,
          venue: e.venue,
          startsAt: e.startsAt,
          minPriceCents: e.minPriceCents,
          available: byEvent.get(e.id) ?? 0,
          status: e.status,
        })),
        nextCursor: page.nextCursor,
      };
    },
    async getEvent(eventId) {
      const [{ event }, availability] = await Promise.all([call(eventsGetV1, { eventId }), availabilityOf(eventId)]);
      return toHttpEvent(event, availability);
    },
    async getEventSchedule(eventId) {
      const { event } = await call(eventsGetV1, { eventId });
      return { title: event.title, salesStartAt: event.salesStartAt, organizerId: event.organizerId };
    },
    async createEvent(input, callOptions) {
      const { event } = await call(eventsCreateV1, { ...input, status: "on_sale" }, callOptions);
      return toHttpEvent(event, {
        eventId: event.id,
        available: event.capacity,
        sections: event.sections.map((s) => ({ id: s.id, available: s.capacity })),
      });
    },
    async getSeats(eventId, options) {
      // A big event's seat map does not fit in one bus message: inventory answers it in pages (seat
      // id order), read one after another, each call with its own deadline.
      const seats: Seat[] = [];
      let after: string | undefined;
      for (let pages = 0; pages < MAX_SEAT_PAGES; pages++) {
        const page = await call(inventorySeatsV1, { eventId, after, limit: MAX_SEAT_PAGE_LIMIT, sectionId: options?.sectionId });
        seats.push(...page.seats);
        if (page.nextCursor === null) return seats;
        if (page.nextCursor === after || page.seats.length === 0) break;
        after = page.nextCursor;
      }
      throw new RpcError(RpcErrorCodes.INTERNAL, "the seat map of this event did not end", { retryable: false, details: { eventId, seats: seats.length } });
    },
    async hold(eventId, input, callOptions) {
      return (await call(inventoryHoldV1, { eventId, ...input, admission: callOptions.admission }, callOptions, true)).hold;
    },
    async releaseHold(holdId, callOptions) {
      await call(inventoryReleaseV1, { holdId }, callOptions);
    },
    async placeOrder(input, callOptions) {
      return (await call(inventoryOrderV1, input, callOptions, true)).order;
    },
    async listOrders(callOptions) {
      return (await call(inventoryOrdersV1, { limit: 100 }, callOptions)).orders;
    },
    async getOrder(orderId, callOptions) {
      return (await call(inventoryGetOrderV1, { orderId }, callOptions)).order;
    },
    async health() {
      const checks = [usersHealthV1, eventsHealthV1, inventoryHealthV1, paymentsHealthV1] as const;
      const results = await Promise.allSettled(checks.map((method) => call(method, {}, {})));
      return Object.fromEntries(
        checks.map((method, i) => {
          const result = results[i];
          return [method.name.split(".")[0], result.status === "fulfilled" && result.value.ok];
        }),
      );
    },
    close: () => rpc.close(),
  };
}
