// Waiting rooms in this process's memory: the embedded platform (one gateway). Every operation is
// synchronous inside, so it is as atomic as the Redis scripts it mirrors (redis-room-store.ts).
import {
  admissionBurst,
  admissionWindow,
  CALLED_GRACE_MS,
  CALLED_LATE_AFTER_MS,
  CALLED_LOOK_AT,
  CALLED_LOOK_EVERY_MS,
  CALLED_PRESENT_WITHIN_MS,
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
  /** Called buyers (stepped aside at the front, see CALLED_PRESENT_WITHIN_MS) by their order key, and the same in order. */
  called: Map<string, number>;
  calledOrder: string[];
  calledKeys: number[];
  /** When each called buyer is due to ask (let go CALLED_GRACE_MS after it). */
  calledDue: Map<string, number>;
  lookedAt: number;
  calledSweptAt: number;
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
  return { line: new Map(), order: [], orderKeys: [], head: 0, dirty: false, called: new Map(), calledOrder: [], calledKeys: [], calledDue: new Map(), lookedAt: 0, calledSweptAt: 0, admitted: new Map(), expired: new Set(), admissionLog: [], nextPollAt: new Map(), earlyPolls: new Map(), seq: 0, tokens: 0, refilledAt: 0, paused: false, maxAdmitted: null, soldOut: false, soldOutAt: null, lastAdmissionEnd: 0, expiresAt: Infinity };
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

  /** 0-based place in the line (called buyers not counted): a binary search over the order keys. */
  function rankOf(r: Room, key: number): number {
    tidy(r);
    return search(r.orderKeys, r.head, key) - r.head;
  }

  /** The first index from `low` whose key is not below `key`. */
  function search(keys: number[], low: number, key: number): number {
    let high = keys.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (keys[mid] < key) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  function addCalled(r: Room, userId: string, key: number, due: number): void {
    r.called.set(userId, key);
    r.calledDue.set(userId, due);
    const at = search(r.calledKeys, 0, key);
    r.calledOrder.splice(at, 0, userId);
    r.calledKeys.splice(at, 0, key);
  }

  function removeCalled(r: Room, userId: string): boolean {
    const key = r.called.get(userId);
    if (key === undefined) return false;
    r.called.delete(userId);
    r.calledDue.delete(userId);
    const at = search(r.calledKeys, 0, key);
    r.calledOrder.splice(at, 1);
    r.calledKeys.splice(at, 1);
    return true;
  }

  /**
   * Buyers at the front who will not ask soon step aside, called (CALLED_PRESENT_WITHIN_MS): those
   * behind who are asking are admitted meanwhile, and the called are admitted first when they ask.
   */
  function callAway(r: Room, clock: RoomClock): void {
    if (clock.now - r.lookedAt < CALLED_LOOK_EVERY_MS) return;
    r.lookedAt = clock.now;
    tidy(r);
    const end = Math.min(r.order.length, r.head + CALLED_LOOK_AT);
    const kept: Array<[string, number]> = [];
    let moved = 0;
    for (let i = r.head; i < end; i++) {
      const user = r.order[i];
      const due = r.nextPollAt.get(user);
      if (due === undefined || due > clock.now + CALLED_PRESENT_WITHIN_MS || due < clock.now - CALLED_LATE_AFTER_MS) {
        r.line.delete(user);
        addCalled(r, user, r.orderKeys[i], due === undefined || due < clock.now - CALLED_LATE_AFTER_MS ? clock.now - CALLED_LATE_AFTER_MS : due);
        moved++;
      } else {
        kept.push([user, r.orderKeys[i]]);
      }
    }
    // Those who stay keep their order, packed at the end of the looked-at stretch.
    for (const [j, [user, key]] of kept.entries()) {
      r.order[r.head + moved + j] = user;
      r.orderKeys[r.head + moved + j] = key;
    }
    r.head += moved;
  }

  /** Called buyers who did not come back are let go (about once a second). */
  function sweepCalled(r: Room, now: number): void {
    if (r.called.size === 0 || now - r.calledSweptAt < 1000) return;
    r.calledSweptAt = now;
    for (const [user, due] of r.calledDue) {
      if (due >= now - CALLED_GRACE_MS) continue;
      removeCalled(r, user);
      r.nextPollAt.delete(user);
      r.expired.add(user);
    }
  }

  /** Called buyers about to ask (due soon, not late): they go before those behind them. */
  function presentCalled(r: Room, now: number): number {
    let count = 0;
    for (const due of r.calledDue.values()) if (due > now - CALLED_LATE_AFTER_MS && due <= now + CALLED_PRESENT_WITHIN_MS) count++;
    return count;
  }

  /**
   * Admits the buyer now if they may go (near the front, called, or nobody waiting) and the rate,
   * cap and pause allow: admission happens when the buyer asks (ADMISSION_WINDOW_SECONDS).
   */
  function tryAdmit(r: Room, userId: string, clock: RoomClock): boolean {
    if (clock.now < clock.salesStartAt || r.paused || r.soldOut) return false;
    // The organiser may cap lower than the platform (and the gateway's gate, createAdmissionGate, to 0).
    if (r.tokens < 1 || r.admitted.size >= Math.min(r.maxAdmitted ?? Infinity, clock.maxConcurrent)) return false;
    if (!removeCalled(r, userId)) {
      const key = r.line.get(userId);
      if (key !== undefined) {
        if (presentCalled(r, clock.now) + rankOf(r, key) >= admissionWindow(clock.ratePerSecond)) return false;
        dequeue(r, userId);
      } else if (r.line.size + r.called.size > 0) {
        return false;
      }
    }
    r.tokens -= 1;
    r.expired.delete(userId);
    admit(r, userId, clock);
    return true;
  }

  /** Ends admissions that ran out, refills the rate's tokens, and steps aside the absent at the front. */
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
    const burst = admissionBurst(clock.ratePerSecond);
    r.tokens = r.refilledAt === 0 ? burst : Math.min(burst, r.tokens + ((clock.now - r.refilledAt) / 1000) * clock.ratePerSecond);
    // A paused room saves at most one token: a resume admits the front at once and the rest at the
    // rate. With a second's worth saved, the 40,000-buyer on-sale's resume (BENCHMARKS.md) let
    // ~200 buyers in at once and had 237 checkouts in flight.
    if (r.paused) r.tokens = Math.min(r.tokens, 1);
    r.refilledAt = clock.now;
    sweepCalled(r, clock.now);
    if (r.paused || r.soldOut || r.tokens < 1) return;
    callAway(r, clock);
  }

  function snapshot(r: Room, userId: string, clock: RoomClock): RoomSnapshot {
    const until = r.admitted.get(userId);
    const key = r.line.get(userId);
    const calledKey = r.called.get(userId);
    const state = until !== undefined ? "admitted" : key !== undefined || calledKey !== undefined ? "waiting" : r.expired.has(userId) ? "expired" : "none";
    // The pre-queue has no order until opening (nobody is told a position): ranking it then would
    // sort the whole line on every join (20,000 pre-queue joins cost 155 s of CPU that way).
    const opened = clock.now >= clock.salesStartAt;
    let rank: number | null = null;
    let lineRank: number | null = null;
    // A buyer's position is their place among everyone waiting, line and called together, by their
    // order key: unique, and it only falls (a buyer stepping aside or coming back moves nobody). As
    // the called set's size plus the place in line, a position rose whenever someone behind stepped
    // aside. (As the Lua script.)
    if (opened && calledKey !== undefined) {
      // Told when to ask by their place among the called, not as the front: thousands called while
      // admissions are slow must not all ask every 2 s (pollAfterSecondsFor).
      lineRank = search(r.calledKeys, 0, calledKey);
      rank = lineRank + rankOf(r, calledKey);
    } else if (opened && key !== undefined) {
      lineRank = rankOf(r, key);
      rank = search(r.calledKeys, 0, key) + lineRank;
    }
    return {
      state,
      rank,
      admittedUntil: until ?? null,
      waiting: r.line.size + r.called.size,
      admitted: r.admitted.size,
      admittedLastMinute: r.admissionLog.length,
      soldOut: r.soldOut,
      paused: r.paused,
      maxAdmitted: r.maxAdmitted,
      pollAfterSeconds: pollAfterSecondsFor(state, lineRank, clock, !opened && key !== undefined ? { key, waiting: r.line.size } : undefined),
    };
  }

  /** The buyer's snapshot, remembering when they were told to ask again (and when a called buyer is let go). */
  function told(r: Room, userId: string, clock: RoomClock): RoomSnapshot {
    const result = snapshot(r, userId, clock);
    if (result.state !== "none") {
      const next = clock.now + result.pollAfterSeconds * 1000;
      r.nextPollAt.set(userId, next);
      if (r.called.has(userId)) r.calledDue.set(userId, next);
    }
    keep(r, clock.now, clock.salesStartAt);
    return result;
  }

  return {
    async join(eventId, userId, clock, preQueueKey) {
      const r = room(eventId, clock.now);
      step(r, clock);
      keep(r, clock.now, clock.salesStartAt);
      if (!r.admitted.has(userId) && !r.line.has(userId) && !r.called.has(userId)) {
        if (r.soldOut) return "sold_out";
        r.expired.delete(userId);
        enqueue(r, userId, clock.now < clock.salesStartAt ? preQueueKey : 1 + ++r.seq);
      }
      if (!r.admitted.has(userId)) tryAdmit(r, userId, clock);
      return told(r, userId, clock);
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
      if (r.line.has(userId) || r.called.has(userId)) tryAdmit(r, userId, clock);
      return { kind: "snapshot", snapshot: told(r, userId, clock) } satisfies PollResult;
    },
    async admitForHold(eventId, userId, clock) {
      const r = room(eventId, clock.now);
      step(r, clock);
      keep(r, clock.now, clock.salesStartAt);
      const until = r.admitted.get(userId);
      if (until !== undefined) return until;
      if (r.soldOut) return "sold_out";
      if (!tryAdmit(r, userId, clock)) return null;
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
      const had = dequeue(r, userId) || removeCalled(r, userId) || r.admitted.delete(userId);
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
      // Tokens up to now under the old setting: a room resumed after a long pause starts with at most one.
      step(r, clock);
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
