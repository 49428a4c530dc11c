// Waiting rooms in this process's memory: the embedded platform (one gateway). Every operation is
// synchronous inside, so it is as atomic as the Redis scripts it mirrors (redis-room-store.ts).
import {
  DEFAULT_ROOM_EXPIRY,
  MAX_ADMITTED_PER_STEP,
  pollAfterSecondsFor,
  roomExpiresAt,
  type PollResult,
  type RoomClock,
  type RoomExpiryOptions,
  type RoomSnapshot,
  type RoomStore,
} from "./room-store.ts";

interface Room {
  /** Waiting buyers by their order key (pre-queue: random in [0,1); after opening: 1 + arrival number). */
  line: Map<string, number>;
  /** `line` in order from `head` on (keys alongside, for binary search); rebuilt only after a pre-queue join. */
  order: string[];
  orderKeys: number[];
  head: number;
  dirty: boolean;
  admitted: Map<string, number>;
  expired: Set<string>;
  admissionLog: number[];
  nextPollAt: Map<string, number>;
  earlyPolls: Map<string, number>;
  seq: number;
  tokens: number;
  refilledAt: number;
  paused: boolean;
  maxAdmitted: number | null;
  soldOut: boolean;
  soldOutAt: number | null;
  lastAdmissionEnd: number;
  /** When this room is forgotten (roomExpiresAt), as Redis expires a room's keys. */
  expiresAt: number;
}

function emptyRoom(): Room {
  return { line: new Map(), order: [], orderKeys: [], head: 0, dirty: false, admitted: new Map(), expired: new Set(), admissionLog: [], nextPollAt: new Map(), earlyPolls: new Map(), seq: 0, tokens: 0, refilledAt: 0, paused: false, maxAdmitted: null, soldOut: false, soldOutAt: null, lastAdmissionEnd: 0, expiresAt: Infinity };
}

/** What a room that does not exist looks like (read only). */
const EMPTY_ROOM = emptyRoom();

export interface MemoryRoomStoreOptions {
  /** When a room is forgotten; default DEFAULT_ROOM_EXPIRY. */
  readonly expiry?: RoomExpiryOptions;
}

export function createMemoryRoomStore(options: MemoryRoomStoreOptions = {}): RoomStore {
  const expiry = options.expiry ?? DEFAULT_ROOM_EXPIRY;
  const rooms = new Map<string, Room>();
  let latestNow = 0;
  let sweptAt = 0;

  /** The event's room as of `now`: a room past its expiry is gone (and others are swept now and then). */
  function room(eventId: string, now: number): Room {
    latestNow = Math.max(latestNow, now);
    if (now - sweptAt >= 60_000) {
      sweptAt = now;
      for (const [id, other] of rooms) if (other.expiresAt <= now) rooms.delete(id);
    }
    let r = rooms.get(eventId);
    if (r && r.expiresAt <= now) {
      rooms.delete(eventId);
      r = undefined;
    }
    if (!r) {
      r = { ...emptyRoom(), expiresAt: now + expiry.idleTtlMs };
      rooms.set(eventId, r);
    }
    return r;
  }

  /** After each use: when the room will be forgotten. */
  function keep(r: Room, now: number, salesStartAt: number): void {
    r.expiresAt = roomExpiresAt({ now, salesStartAt, soldOutAt: r.soldOutAt, lastAdmissionEnd: r.lastAdmissionEnd }, expiry);
  }

  function admit(r: Room, userId: string, clock: RoomClock): void {
    // Re-inserted at the end: the map stays in order of admission end (every admission lasts the
    // same TTL), which is what lets step() stop at the first admission still running.
    r.admitted.delete(userId);
    r.admitted.set(userId, clock.now + clock.admissionTtlMs);
    r.admissionLog.push(clock.now);
    r.lastAdmissionEnd = Math.max(r.lastAdmissionEnd, clock.now + clock.admissionTtlMs);
  }

  function tidy(r: Room): void {
    if (r.dirty) {
      const sorted = [...r.line.entries()].sort((a, b) => a[1] - b[1]);
      r.order = sorted.map(([user]) => user);
      r.orderKeys = sorted.map(([, key]) => key);
      r.head = 0;
      r.dirty = false;
    } else if (r.head > 1024 && r.head * 2 > r.order.length) {
      r.order = r.order.slice(r.head);
      r.orderKeys = r.orderKeys.slice(r.head);
      r.head = 0;
    }
  }

  function enqueue(r: Room, userId: string, key: number): void {
    r.line.set(userId, key);
    const last = r.orderKeys.length > r.head ? r.orderKeys[r.orderKeys.length - 1] : -1;
    if (!r.dirty && key > last) {
      r.order.push(userId);
      r.orderKeys.push(key);
    } else {
      r.dirty = true;
    }
  }

  /** Takes a buyer out of the line (their key is unique in it), keeping the order arrays in step. */
  function dequeue(r: Room, userId: string): boolean {
    const key = r.line.get(userId);
    if (key === undefined) return false;
    r.line.delete(userId);
    if (r.dirty) return true;
    const at = r.head + rankOf(r, key);
    if (r.order[at] === userId) {
      r.order.splice(at, 1);
      r.orderKeys.splice(at, 1);
    } else {
      r.dirty = true;
    }
    return true;
  }

  /** 0-based place among those waiting: a binary search over the order keys. */
  function rankOf(r: Room, key: number): number {
    tidy(r);
    let low = r.head;
    let high = r.orderKeys.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (r.orderKeys[mid] < key) low = mid + 1;
      else high = mid;
    }
    return low - r.head;
  }

  /** Ends admissions that ran out, then admits from the front as the rate, cap and pause allow. */
  function step(r: Room, clock: RoomClock): void {
    // Oldest admission first (see admit): stop at the first one still running. Scanning every
    // admission on every poll cost O(admitted) per request — up to 5,000 per poll in the
    // 40,000-buyer on-sale, where the embedded gateway's polls then timed out in waves.
    let expiredNow = 0;
    for (const [user, until] of r.admitted) {
      if (until > clock.now || expiredNow >= MAX_ADMITTED_PER_STEP) break;
      r.admitted.delete(user);
      r.expired.add(user);
      expiredNow++;
    }
    while (r.admissionLog.length > 0 && r.admissionLog[0] <= clock.now - 60_000) r.admissionLog.shift();
    if (clock.now < clock.salesStartAt) return;
    const burst = Math.max(1, clock.ratePerSecond);
    r.tokens = r.refilledAt === 0 ? burst : Math.min(burst, r.tokens + ((clock.now - r.refilledAt) / 1000) * clock.ratePerSecond);
    r.refilledAt = clock.now;
    if (r.paused || r.soldOut) return;
    const cap = r.maxAdmitted ?? clock.maxConcurrent;
    const n = Math.min(Math.floor(r.tokens), cap - r.admitted.size, r.line.size, MAX_ADMITTED_PER_STEP);
    if (n <= 0) return;
    tidy(r);
    const front = r.order.slice(r.head, r.head + n);
    r.head += n;
    for (const user of front) {
      r.line.delete(user);
      admit(r, user, clock);
    }
    r.tokens -= n;
  }

  function snapshot(r: Room, userId: string, clock: RoomClock): RoomSnapshot {
    const until = r.admitted.get(userId);
    const key = r.line.get(userId);
    const state = until !== undefined ? "admitted" : key !== undefined ? "waiting" : r.expired.has(userId) ? "expired" : "none";
    // The pre-queue has no order until opening (nobody is told a position): ranking it then would
    // sort the whole line on every join (20,000 pre-queue joins cost 155 s of CPU that way).
    const rank = key !== undefined && clock.now >= clock.salesStartAt ? rankOf(r, key) : null;
    return {
      state,
      rank,
      admittedUntil: until ?? null,
      waiting: r.line.size,
      admitted: r.admitted.size,
      admittedLastMinute: r.admissionLog.length,
      soldOut: r.soldOut,
      paused: r.paused,
      maxAdmitted: r.maxAdmitted,
      pollAfterSeconds: pollAfterSecondsFor(state, rank, clock),
    };
  }

  return {
    async join(eventId, userId, clock, preQueueKey) {
      const r = room(eventId, clock.now);
      step(r, clock);
      keep(r, clock.now, clock.salesStartAt);
      if (!r.admitted.has(userId) && !r.line.has(userId)) {
        if (r.soldOut) return "sold_out";
        r.expired.delete(userId);
        enqueue(r, userId, clock.now < clock.salesStartAt ? preQueueKey : 1 + ++r.seq);
        step(r, clock);
      }
      const result = snapshot(r, userId, clock);
      r.nextPollAt.set(userId, clock.now + result.pollAfterSeconds * 1000);
      keep(r, clock.now, clock.salesStartAt);
      return result;
    },
    async poll(eventId, userId, clock, earlyPollAllowance) {
      // Asking about a room that does not exist (never made, or forgotten) must not make one.
      latestNow = Math.max(latestNow, clock.now);
      const existing = rooms.get(eventId);
      if (!existing || existing.expiresAt <= clock.now) return { kind: "snapshot", snapshot: snapshot(EMPTY_ROOM, userId, clock) } satisfies PollResult;
      const r = room(eventId, clock.now);
      const next = r.nextPollAt.get(userId);
      if (next !== undefined && clock.now < next - 1000) {
        const early = (r.earlyPolls.get(userId) ?? 0) + 1;
        r.earlyPolls.set(userId, early);
        if (early > earlyPollAllowance) return { kind: "too_soon", retryAfterMs: next - clock.now } satisfies PollResult;
      } else {
        r.earlyPolls.delete(userId);
      }
      step(r, clock);
      const result = snapshot(r, userId, clock);
      if (result.state !== "none") r.nextPollAt.set(userId, clock.now + result.pollAfterSeconds * 1000);
      keep(r, clock.now, clock.salesStartAt);
      return { kind: "snapshot", snapshot: result };
    },
    async admitForHold(eventId, userId, clock) {
      const r = room(eventId, clock.now);
      step(r, clock);
      keep(r, clock.now, clock.salesStartAt);
      const until = r.admitted.get(userId);
      if (until !== undefined) return until;
      if (r.soldOut) return "sold_out";
      if (clock.now < clock.salesStartAt || r.line.size > 0 || r.paused) return null;
      if (r.tokens < 1 || r.admitted.size >= (r.maxAdmitted ?? clock.maxConcurrent)) return null;
      r.tokens -= 1;
      r.expired.delete(userId);
      admit(r, userId, clock);
      keep(r, clock.now, clock.salesStartAt);
      return clock.now + clock.admissionTtlMs;
    },
    async finish(eventId, userId) {
      const r = rooms.get(eventId);
      if (!r) return;
      r.admitted.delete(userId);
      r.nextPollAt.delete(userId);
    },
    async leave(eventId, userId) {
      const r = rooms.get(eventId);
      if (!r) return false;
      const had = dequeue(r, userId) || r.admitted.delete(userId);
      r.nextPollAt.delete(userId);
      r.earlyPolls.delete(userId);
      r.expired.delete(userId);
      return had;
    },
    async stats(eventId, clock) {
      const r = room(eventId, clock.now);
      step(r, clock);
      keep(r, clock.now, clock.salesStartAt);
      return snapshot(r, "", clock);
    },
    async configure(eventId, change, clock) {
      const r = room(eventId, clock.now);
      if (change.paused !== undefined) r.paused = change.paused;
      if (change.maxAdmitted !== undefined) r.maxAdmitted = change.maxAdmitted;
      keep(r, clock.now, clock.salesStartAt);
    },
    async setSoldOut(eventId, soldOut, now) {
      // Every event's availability changes arrive here; a quiet event gets no room (one that sells out
      // gets one for its sold-out time).
      if (soldOut) {
        const r = room(eventId, now);
        if (!r.soldOut) {
          r.soldOut = true;
          r.soldOutAt = now;
        }
        keep(r, now, 0);
      } else if (rooms.has(eventId)) {
        const r = room(eventId, now);
        r.soldOut = false;
        r.soldOutAt = null;
      }
    },
    async rooms() {
      return [...rooms].filter(([, r]) => r.expiresAt > latestNow).map(([id]) => id);
    },
    async close() {
      rooms.clear();
    },
  };
}
