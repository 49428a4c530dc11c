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
  /**
   * Waiting buyers are told when to ask (pollAfterSeconds) by at least this rate, whatever the
   * controller's is (QUEUE_POLL_RATE_FLOOR; see pollRateOf). Unset: the controller's rate alone.
   */
  readonly pollRateFloor?: number;
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
  /** 0-based among those waiting (called buyers first); null when not waiting, and in the pre-queue (no order before opening). */
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
   * The buyer's situation; a waiting buyer near the front (or called) is admitted now if the rate and
   * cap allow. Polls earlier than the pollAfterSeconds last given, beyond `earlyPollAllowance` in a
   * row, are refused (`too_soon`).
   */
  poll(eventId: string, userId: string, clock: RoomClock, earlyPollAllowance: number): Promise<PollResult>;
  /**
   * For a hold: the buyer's admission if they have one; otherwise admits them on the spot when nobody
   * waits (or they are near the front, ADMISSION_WINDOW_SECONDS) and the rate and cap allow. Null:
   * others are waiting ahead (or the room is paused or full); "sold_out": nothing is left to hold.
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

/**
 * Admission happens when the buyer asks. A room does not admit buyers in their absence (they would
 * learn of it only at their next poll, up to two minutes later): it hands its admissions, at the
 * controller's rate, to waiting buyers who ask while they are near the front, so buyers reach
 * checkout at the rate the controller sets and its cuts take effect at once. Measured before: the
 * 40,000-buyer on-sale admitted buyers far back when the rate rose, they learned of it a minute
 * later all together, and checkout got 503s from the burst (purchase p99 33 s).
 *
 * Near the front: within this many seconds of admissions at the current rate (at least one place).
 * Buyers there are told to ask every POLL_AFTER_MIN_SECONDS, so admissions are taken within
 * seconds. Between them, buyers near the front may be admitted in the order they ask.
 */
export const ADMISSION_WINDOW_SECONDS = 4;
/**
 * The rate's bucket holds this many seconds of admissions: admissions unspent for a moment (polls
 * come in clusters) are not handed out all at once to the next cluster. With a whole second's worth,
 * the 40,000-buyer on-sale saw 120-250 checkouts in flight at once at 200 admissions/s (purchase p99
 * 2.4 s while the median was 131 ms).
 */
export const ADMISSION_BURST_SECONDS = 0.25;
/**
 * ...but never fewer than this many (or the rate, when lower): a quiet event whose few buyers hold
 * at the same moment are admitted on the spot, as they were with a second's worth at the starting rate.
 */
export const ADMISSION_BURST_MIN = 20;

/** How many admissions the rate's bucket holds at `ratePerSecond` (both stores). */
export function admissionBurst(ratePerSecond: number): number {
  return Math.max(1, ratePerSecond * ADMISSION_BURST_SECONDS, Math.min(ratePerSecond, ADMISSION_BURST_MIN));
}
/**
 * A buyer at the front who will not ask within this long (told a long `pollAfterSeconds` before the
 * rate rose and the line reached them) steps aside, "called": they keep their place at the very
 * front and are admitted first when they ask, while those behind them who are asking are admitted
 * meanwhile. Nobody's place rises. They are told when to ask by their place among the called, like
 * anyone else by theirs: told every 2 s as the front, 13,000 of them kept a gateway's loop lagging
 * (its admission gate closed, so they stayed called) in the 40,000-buyer bench. Called buyers who are about to ask (due within this long, and
 * not late) count against the window of those behind, so newcomers do not take their turn.
 */
export const CALLED_PRESENT_WITHIN_MS = 3000;
/** A buyer at the front this late for the poll they were told to make steps aside too (and counts as away). */
export const CALLED_LATE_AFTER_MS = 30_000;
/**
 * A called buyer who has not asked for this long past when they were due is let go: told `expired`,
 * they may join again. A buyer called for being late is due CALLED_LATE_AFTER_MS before the call.
 */
export const CALLED_GRACE_MS = 60_000;
/** How many of the line's front one step looks at, at most once per CALLED_LOOK_EVERY_MS. */
export const CALLED_LOOK_AT = 32;
export const CALLED_LOOK_EVERY_MS = 100;

/** How far back in the line (0-based place among those not called) a buyer is admitted when they ask. */
export function admissionWindow(ratePerSecond: number): number {
  return Math.max(1, Math.ceil(ratePerSecond * ADMISSION_WINDOW_SECONDS));
}

/** Largest number of admissions (and expiries) one step performs, to keep each step short. */
export const MAX_ADMITTED_PER_STEP = 500;

/** A pre-queue buyer's random order key (in [0,1)) and how many wait: when they should first ask after opening. */
export interface PreQueuePlace {
  readonly key: number;
  readonly waiting: number;
}
/** How many pre-queue buyers a second are asked to come back after opening (spread by their place). */
export const PRE_QUEUE_POLLS_PER_SECOND = 1000;
/** …over at most this long after opening. */
export const PRE_QUEUE_SPREAD_MAX_SECONDS = 60;

/** The longest a waiting buyer is told to wait before asking again (seconds). */
export const POLL_AFTER_MAX_SECONDS = 120;
/** The shortest (seconds): the front of the line and the last seconds before opening. */
export const POLL_AFTER_MIN_SECONDS = 2;
/** A waiting buyer asks again after 1/this of their expected wait (see pollAfterSecondsFor). */
export const POLL_AFTER_SHARE_OF_WAIT_DIVISOR = 2;

/**
 * When a client should ask again: often near the front, rarely far back (40,000 pollers must not
 * drown the gateways), half of the expected wait, between 2 and 120 s. With the cap at 30 s,
 * 40,000 buyers behind a room admitting 16 a second asked 1,270 times a second, nearly all of them
 * from far back; at 120 s, about 630 with a quarter of the wait and 510 with half. Half, not a
 * quarter: behind a room admitting 68 a second (the embedded on-sale) the 40,000 ask about 900
 * times a second instead of 1,420, and in the 40,000-buyer bench those polls were what slowed the
 * admitted buyers' checkouts (one process serves both): polls 355,000 → 221,000, holds slower than
 * 500 ms 3.0% → 0.6%, sold out 296 → 262 s (BENCHMARKS.md, eighth session). A buyer whose turn
 * comes sooner than told (the rate more than doubled) steps aside until they ask ("called"). An
 * admitted buyer asks every 30 s (the admission lasts minutes). Mirrored in the Lua script.
 */
export function pollAfterSecondsFor(state: RoomState, rank: number | null, clock: RoomClock, preQueue?: PreQueuePlace): number {
  if (state === "waiting" && clock.now < clock.salesStartAt) {
    const toOpen = (clock.salesStartAt - clock.now) / 1000;
    const quarter = Math.ceil(toOpen / 4);
    if (quarter > POLL_AFTER_MIN_SECONDS || preQueue === undefined) return clamp(quarter, POLL_AFTER_MIN_SECONDS, POLL_AFTER_MAX_SECONDS);
    // The last ask before opening: come back at your turn after it. The pre-queue's order is its
    // random keys, so a buyer's key says where they will stand; spread over up to a minute, the
    // front first, the pre-queue asks at most PRE_QUEUE_POLLS_PER_SECOND once the sale opens instead
    // of all of it every 2 s in its last seconds (20,000 buyers: 10,000 polls a second at opening).
    const spread = Math.min(PRE_QUEUE_SPREAD_MAX_SECONDS, preQueue.waiting / PRE_QUEUE_POLLS_PER_SECOND);
    return Math.max(POLL_AFTER_MIN_SECONDS, Math.ceil(toOpen + preQueue.key * spread));
  }
  if (state === "waiting" && rank !== null) {
    // Spread by place (the golden ratio's multiples fill [0,1) evenly): buyers told the same thing at
    // the same moment — everyone past the cap — must not all come back in the same second. In the
    // 40,000-buyer bench they did, and each wave of 20,000 polls timed out requests.
    const spread = (rank * 0.6180339887) % 1;
    const max = Math.floor(POLL_AFTER_MAX_SECONDS * (0.75 + 0.25 * spread));
    return clamp(Math.ceil((rank / Math.max(pollRateOf(clock), 0.1) / POLL_AFTER_SHARE_OF_WAIT_DIVISOR) * (0.75 + 0.5 * spread)), POLL_AFTER_MIN_SECONDS, max);
  }
  return 30;
}

/**
 * The rate a waiting buyer's next ask is planned by: the controller's rate, never below the floor.
 * The controller starts low (ADMISSION_RATE_INITIAL) and an arrival flood cuts it further, and a
 * buyer told to come back by that rate comes back up to 120 s later whatever the rate does
 * meanwhile. In the 40,000-buyer on-sale (embedded) the buyers who joined at rates of 12–50 a second
 * were told 90–120 s; the rate was 203 a second by 42 s, but nobody near enough the front asked, so
 * the room admitted 20–40 a second for a minute with the process 24–37% busy. A buyer who asks too
 * early costs one poll; a room nobody asks of loses its admissions for good. The estimated wait shown
 * to the buyer stays the real one.
 */
export function pollRateOf(clock: Pick<RoomClock, "ratePerSecond" | "pollRateFloor">): number {
  return Math.max(clock.ratePerSecond, clock.pollRateFloor ?? 0);
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
