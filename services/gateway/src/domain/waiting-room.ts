// The waiting room's use cases: join, poll, admit for a hold, finish on a confirmed order, and the
// organiser's stats and controls. The rules of order live in the room store (one atomic step each);
// this module knows the event (when it opens, who organises it), the measured admission rate, and
// turns a store snapshot into the `queue` of shared/reference/http-api.md.
import { randomInt } from "node:crypto";
import type { HttpQueue, HttpQueueStats } from "@boxoffice/contracts";
import type { AdmissionKeys } from "@boxoffice/identity";
import type { GatewayBackend } from "../backend.ts";
import { GatewayError } from "../errors.ts";
import type { RoomClock, RoomSnapshot, RoomStore } from "../store/room-store.ts";
import type { AdmissionRate } from "./admission-rate.ts";

export interface WaitingRoomOptions {
  readonly store: RoomStore;
  readonly backend: Pick<GatewayBackend, "getEventSchedule">;
  readonly admissions: Pick<AdmissionKeys, "sign">;
  readonly rate: AdmissionRate;
  readonly admissionTtlSeconds: number;
  readonly maxConcurrent: number;
  /**
   * Whether a join or poll may admit now (createAdmissionGate: not while this gateway's loop lags).
   * A closed gate admits nobody on that ask (the buyer is told to come back as usual); holds are
   * not gated (a quiet event's buyer is admitted on the spot, an admitted buyer keeps the admission).
   */
  readonly admitting?: () => boolean;
  readonly earlyPollAllowance: number;
  /** Waiting buyers are told when to ask again as if the room admitted at least this many a second (pollRateOf). Default 0. */
  readonly pollRateFloor?: number;
  /** How long an event's opening time and organiser are reused before asking the catalogue again. */
  readonly eventInfoTtlMs?: number;
  /** How long a known opening time is still served while the catalogue is asked again (or is away). Default 30 s. */
  readonly eventInfoMaxStaleMs?: number;
  readonly now?: () => number;
}

export interface WaitingRoom {
  join(eventId: string, userId: string): Promise<HttpQueue>;
  poll(eventId: string, userId: string): Promise<HttpQueue>;
  /** A signed admission for a hold, or SALES_NOT_STARTED / NOT_ADMITTED. */
  admissionForHold(eventId: string, userId: string): Promise<string>;
  /** The buyer's order is confirmed: the admission ends and frees its place. Never throws. */
  finish(eventId: string, userId: string): Promise<void>;
  /** The buyer leaves the line (or gives up their admission); NOT_IN_QUEUE when they had neither. */
  leave(eventId: string, userId: string): Promise<void>;
  stats(eventId: string, organizerId: string): Promise<HttpQueueStats>;
  configure(eventId: string, organizerId: string, change: { paused?: boolean; maxAdmitted?: number | null }): Promise<HttpQueueStats>;
  /** From inventory's availability on the firehose: nothing left to hold tells every waiting buyer. */
  availabilityChanged(eventId: string, available: number): Promise<void>;
  /** The operator console: every room with anyone waiting or admitted, busiest first. */
  occupiedRooms(): Promise<OccupiedRoom[]>;
}

export interface OccupiedRoom {
  eventId: string;
  title: string;
  waiting: number;
  admitted: number;
  admittedPerMinute: number;
  paused: boolean;
}

interface EventInfo {
  salesStartAt: number;
  organizerId: string | undefined;
  title: string;
}

export function queuePath(eventId: string): string {
  return `/api/events/${eventId}/queue`;
}

export function createWaitingRoom(options: WaitingRoomOptions): WaitingRoom {
  const now = options.now ?? Date.now;
  const infoTtl = options.eventInfoTtlMs ?? 1000;
  const infoMaxStale = Math.max(infoTtl, options.eventInfoMaxStaleMs ?? 30_000);
  interface InfoEntry {
    info: Promise<EventInfo>;
    at: number;
    /** The answer once it came: served while the next lookup is in flight. */
    known?: EventInfo;
    refreshing?: boolean;
  }
  const infos = new Map<string, InfoEntry>();

  function lookUp(eventId: string): Promise<EventInfo> {
    return options.backend.getEventSchedule(eventId).then((event) => ({
      salesStartAt: Date.parse(event.salesStartAt ?? new Date(0).toISOString()),
      organizerId: event.organizerId,
      title: event.title,
    }));
  }

  function remember(eventId: string, entry: InfoEntry): void {
    infos.set(eventId, entry);
    if (infos.size > 10_000) infos.delete(infos.keys().next().value as string);
  }

  /**
   * An event's opening, organiser and title, asked of the catalogue at most once per infoTtl. Once
   * known, it is served at once while the next lookup is in flight (stale while revalidate, up to
   * infoMaxStale): a waiting buyer's poll never waits on another service. Measured: every room
   * request waited on one shared lookup each second, and in the embedded on-sale that lookup queued
   * behind checkout's queries (18,758 polls got no answer in 30 s).
   */
  function eventInfo(eventId: string): Promise<EventInfo> {
    const cached = infos.get(eventId);
    const age = cached ? now() - cached.at : Number.POSITIVE_INFINITY;
    if (cached && age < infoTtl) return cached.info;
    if (cached?.known && age < infoMaxStale) {
      if (!cached.refreshing) {
        cached.refreshing = true;
        const at = now();
        const info = lookUp(eventId);
        info.then(
          (known) => remember(eventId, { info, at, known }),
          () => (cached.refreshing = false), // keep serving what is known; the next request asks again
        );
      }
      return Promise.resolve(cached.known);
    }
    // Concurrent callers share one lookup; a failure is not kept.
    const entry: InfoEntry = { info: lookUp(eventId), at: now() };
    remember(eventId, entry);
    entry.info.then(
      (known) => (entry.known = known),
      () => {
        if (infos.get(eventId) === entry) infos.delete(eventId);
      },
    );
    return entry.info;
  }

  /** `ask`: a join or poll, which admits only while the gate is open (a cap of 0 admits nobody). */
  function clock(info: EventInfo, ask = false): RoomClock {
    const open = !ask || (options.admitting?.() ?? true);
    return { now: now(), salesStartAt: info.salesStartAt, admissionTtlMs: options.admissionTtlSeconds * 1000, ratePerSecond: options.rate.current(), pollRateFloor: options.pollRateFloor, maxConcurrent: open ? options.maxConcurrent : 0 };
  }

  /** The store is a dependency like a service: when it cannot be reached the answer is 503, never 500. */
  async function guarded<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      throw new GatewayError("UNAVAILABLE", "the waiting room is unavailable; retry in a moment");
    }
  }

  function toQueue(snapshot: RoomSnapshot, at: RoomClock): HttpQueue {
    const opened = at.now >= at.salesStartAt;
    const waiting = snapshot.state === "waiting";
    const soldOut = waiting && snapshot.soldOut;
    const position = waiting && opened && !soldOut && snapshot.rank !== null ? snapshot.rank + 1 : null;
    // The real admission rate of the last minute; the controller's rate until there is one.
    const perSecond = snapshot.admittedLastMinute > 0 ? snapshot.admittedLastMinute / 60 : at.ratePerSecond;
    let estimatedWaitSeconds: number | null = null;
    if (waiting && !soldOut) {
      estimatedWaitSeconds = opened ? Math.ceil((position! - 1) / Math.max(perSecond, 0.01)) : Math.ceil((at.salesStartAt - at.now) / 1000);
    } else if (snapshot.state === "admitted") {
      estimatedWaitSeconds = 0;
    }
    return {
      status: soldOut ? "sold_out" : snapshot.state === "admitted" ? "admitted" : snapshot.state === "expired" ? "expired" : "waiting",
      position,
      ahead: position === null ? null : position - 1,
      estimatedWaitSeconds,
      pollAfterSeconds: snapshot.pollAfterSeconds,
      salesStartAt: new Date(at.salesStartAt).toISOString(),
      admittedUntil: snapshot.admittedUntil === null ? null : new Date(snapshot.admittedUntil).toISOString(),
    };
  }

  function toStats(snapshot: RoomSnapshot): HttpQueueStats {
    return { waiting: snapshot.waiting, admitted: snapshot.admitted, admittedPerMinute: snapshot.admittedLastMinute, paused: snapshot.paused, maxAdmitted: snapshot.maxAdmitted };
  }

  async function requireOrganiser(eventId: string, organizerId: string): Promise<EventInfo> {
    const info = await eventInfo(eventId);
    if (info.organizerId !== organizerId) throw new GatewayError("FORBIDDEN", "only the event's organiser sees and controls its waiting room");
    return info;
  }

  return {
    async join(eventId, userId) {
      const at = clock(await eventInfo(eventId), true);
      // A pre-queue joiner's random order is drawn now, unseen until opening: join order says nothing about it.
      const snapshot = await guarded(options.store.join(eventId, userId, at, randomInt(0, 2 ** 47) / 2 ** 47));
      if (snapshot === "sold_out") throw new GatewayError("SOLD_OUT", "this event is sold out");
      return toQueue(snapshot, at);
    },
    async poll(eventId, userId) {
      const at = clock(await eventInfo(eventId), true);
      const result = await guarded(options.store.poll(eventId, userId, at, options.earlyPollAllowance));
      if (result.kind === "too_soon") {
        throw new GatewayError("RATE_LIMITED", "asked too often: wait pollAfterSeconds between two asks", { retryAfterSeconds: Math.max(1, Math.ceil(result.retryAfterMs / 1000)) });
      }
      if (result.snapshot.state === "none") throw new GatewayError("NOT_IN_QUEUE", "you have no place in this event's waiting room", { details: { queuePath: queuePath(eventId) } });
      return toQueue(result.snapshot, at);
    },
    async admissionForHold(eventId, userId) {
      const info = await eventInfo(eventId);
      const at = clock(info);
      if (at.now < info.salesStartAt) {
        throw new GatewayError("SALES_NOT_STARTED", "this event is not on sale yet", { details: { salesStartAt: new Date(info.salesStartAt).toISOString() } });
      }
      const admittedUntil = await guarded(options.store.admitForHold(eventId, userId, at));
      if (admittedUntil === "sold_out") throw new GatewayError("SOLD_OUT", "this event is sold out");
      if (admittedUntil === null) throw new GatewayError("NOT_ADMITTED", "others are waiting for this event: join its waiting room", { details: { queuePath: queuePath(eventId) } });
      return options.admissions.sign({ userId, eventId, expiresAt: admittedUntil });
    },
    async finish(eventId, userId) {
      await options.store.finish(eventId, userId).catch(() => undefined);
    },
    async leave(eventId, userId) {
      await eventInfo(eventId); // an event that does not exist is 404 NOT_FOUND, as for joining
      if (!(await guarded(options.store.leave(eventId, userId)))) {
        throw new GatewayError("NOT_IN_QUEUE", "you have no place in this event's waiting room", { details: { queuePath: queuePath(eventId) } });
      }
    },
    async stats(eventId, organizerId) {
      const at = clock(await requireOrganiser(eventId, organizerId));
      return toStats(await guarded(options.store.stats(eventId, at)));
    },
    async configure(eventId, organizerId, change) {
      const at = clock(await requireOrganiser(eventId, organizerId));
      await guarded(options.store.configure(eventId, change, at));
      return toStats(await guarded(options.store.stats(eventId, at)));
    },
    async availabilityChanged(eventId, available) {
      await options.store.setSoldOut(eventId, available === 0, now()).catch(() => undefined);
    },
    async occupiedRooms() {
      const rooms: OccupiedRoom[] = [];
      for (const eventId of await guarded(options.store.rooms())) {
        let info: EventInfo;
        try {
          info = await eventInfo(eventId);
        } catch {
          continue; // an event the catalogue no longer knows (or cannot tell now): its room is not shown
        }
        const stats = await guarded(options.store.stats(eventId, clock(info)));
        if (stats.waiting + stats.admitted === 0) continue;
        rooms.push({ eventId, title: info.title, waiting: stats.waiting, admitted: stats.admitted, admittedPerMinute: stats.admittedLastMinute, paused: stats.paused });
      }
      return rooms.sort((a, b) => b.waiting - a.waiting || b.admitted - a.admitted);
    },
  };
}
