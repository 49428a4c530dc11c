// Where waiting rooms live: one room per event, shared by every gateway. Each operation is one
// atomic step (a Lua script on Redis, a synchronous function in memory), so positions come from one
// source: no two buyers share a place and nobody's place ever rises. Both stores implement exactly
// these rules; the same tests run on both (test/waiting-room.test.ts). A room's state is forgotten
// some time after it goes idle or sells out (RoomExpiryOptions), so Redis does not keep every
// event's room for ever.

/** What every operation needs to know besides the buyer: time, opening, and the admission controls. */
export interface RoomClock {
  /** Epoch ms (the gateway's clock; gateways are NTP-synchronised, skew only shifts an admission by it). */
  readonly now: number;
  /** Epoch ms when holds open; joins before it are the pre-queue. */
  readonly salesStartAt: number;
  /** How long an admission lasts. */
  readonly admissionTtlMs: number;
  /** Admissions per second now (the adaptive controller's value). */
  readonly ratePerSecond: number;
  /** Admitted at once at most, unless the organiser set a lower cap. */
  readonly maxConcurrent: number;
}

/** How long a room's state outlives its last use. */
export interface RoomExpiryOptions {
  /**
   * A room nobody has used for this long is forgotten (its keys expire in Redis), but never before
   * its opening or before its last admission runs out: a pre-queue joined days ahead is kept.
   * Default 3,600,000 (an hour: waiting buyers poll at least every 30 s, so a room with anyone
   * really waiting is never idle that long).
   */
  readonly idleTtlMs: number;
  /**
   * A sold-out room is forgotten this long after it sold out, even while buyers told `sold_out` keep
   * asking, but never before its last admission runs out. Default 900,000 (15 minutes).
   */
  readonly soldOutTtlMs: number;
}

export const DEFAULT_ROOM_EXPIRY: RoomExpiryOptions = { idleTtlMs: 3_600_000, soldOutTtlMs: 900_000 };

/** When a room's state may be forgotten (the same rule in both stores). */
export function roomExpiresAt(room: { now: number; salesStartAt: number; soldOutAt: number | null; lastAdmissionEnd: number }, expiry: RoomExpiryOptions): number {
  const base = room.soldOutAt !== null ? room.soldOutAt + expiry.soldOutTtlMs : Math.max(room.now, room.salesStartAt) + expiry.idleTtlMs;
  return Math.max(base, room.lastAdmissionEnd);
}

export type RoomState = "waiting" | "admitted" | "expired" | "none";

/** One buyer's situation plus the room's counters, read in the same atomic step. */
export interface RoomSnapshot {
  readonly state: RoomState;
  /** 0-based among those waiting; null when not waiting, and in the pre-queue (no order before opening). */
  readonly rank: number | null;
  readonly admittedUntil: number | null;
  readonly waiting: number;
  readonly admitted: number;
  readonly admittedLastMinute: number;
  readonly soldOut: boolean;
  readonly paused: boolean;
  readonly maxAdmitted: number | null;
  readonly pollAfterSeconds: number;
}

export type PollResult = { readonly kind: "snapshot"; readonly snapshot: RoomSnapshot } | { readonly kind: "too_soon"; readonly retryAfterMs: number };

export interface RoomStore {
  /** Joins (or finds) the buyer's place. Pre-queue joins get `preQueueKey` (uniform in [0,1)) as their random order. */
  join(eventId: string, userId: string, clock: RoomClock, preQueueKey: number): Promise<RoomSnapshot | "sold_out">;
  /**
   * The buyer's situation. Polls earlier than the pollAfterSeconds last given, beyond
   * `earlyPollAllowance` in a row, are refused (`too_soon`).
   */
  poll(eventId: string, userId: string, clock: RoomClock, earlyPollAllowance: number): Promise<PollResult>;
  /**
   * For a hold: the buyer's admission if they have one; otherwise admits them on the spot when nobody
   * waits and there is room. Null: others are waiting (or the room is paused or full); "sold_out":
   * nothing is left to hold.
   */
  admitForHold(eventId: string, userId: string, clock: RoomClock): Promise<number | null | "sold_out">;
  /** The buyer's order is confirmed: their admission ends, freeing a place. */
  finish(eventId: string, userId: string): Promise<void>;
  /**
   * The buyer leaves: their place in line (everyone behind moves up) or their admission (freeing it)
   * is given up. False: they had neither.
   */
  leave(eventId: string, userId: string): Promise<boolean>;
  stats(eventId: string, clock: RoomClock): Promise<RoomSnapshot>;
  configure(eventId: string, change: { paused?: boolean; maxAdmitted?: number | null }, clock: RoomClock): Promise<void>;
  /** Nothing left to hold (or something again): waiting buyers are told `sold_out`. `now`: epoch ms. */
  setSoldOut(eventId: string, soldOut: boolean, now: number): Promise<void>;
  /** Events that have a room (the operator console reads each one's stats). */
  rooms(): Promise<string[]>;
  close(): Promise<void>;
}

/** Largest number of admissions (and expiries) one step performs, to keep each step short. */
export const MAX_ADMITTED_PER_STEP = 500;

/** The longest a waiting buyer is told to wait before asking again (seconds). */
export const POLL_AFTER_MAX_SECONDS = 120;
/** The shortest (seconds): the front of the line and the last seconds before opening. */
export const POLL_AFTER_MIN_SECONDS = 2;

/**
 * When a client should ask again: often near the front, rarely far back (40,000 pollers must not
 * drown the gateways), a quarter of the expected wait, between 2 and 120 s. With the cap at 30 s,
 * 40,000 buyers behind a room admitting 16 a second asked 1,270 times a second, nearly all of them
 * from far back; at 120 s it is about 530 (a quarter of the wait keeps the near ones prompt). An
 * admitted buyer asks every 30 s (the admission lasts minutes). Mirrored in the Lua script.
 */
export function pollAfterSecondsFor(state: RoomState, rank: number | null, clock: RoomClock): number {
  if (state === "waiting" && clock.now < clock.salesStartAt) return clamp(Math.ceil((clock.salesStartAt - clock.now) / 1000 / 4), POLL_AFTER_MIN_SECONDS, POLL_AFTER_MAX_SECONDS);
  if (state === "waiting" && rank !== null) {
    // Spread by place (the golden ratio's multiples fill [0,1) evenly): buyers told the same thing at
    // the same moment — everyone past the cap — must not all come back in the same second. In the
    // 40,000-buyer bench they did, and each wave of 20,000 polls timed out requests.
    const spread = (rank * 0.6180339887) % 1;
    const max = Math.floor(POLL_AFTER_MAX_SECONDS * (0.75 + 0.25 * spread));
    return clamp(Math.ceil((rank / Math.max(clock.ratePerSecond, 0.1) / 4) * (0.75 + 0.5 * spread)), POLL_AFTER_MIN_SECONDS, max);
  }
  return 30;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
