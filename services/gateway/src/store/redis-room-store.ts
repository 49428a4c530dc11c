// Waiting rooms in Redis: shared by every gateway, surviving any gateway's restart. One Lua script
// does each operation atomically (the same rules as memory-room-store.ts): the line is a sorted set
// (pre-queue: a random key in [0,1) each, so at opening they stand in random order; later joins
// 1 + an arrival counter), admissions a sorted set by their end, so a place is ZRANK and positions
// come from one source.
import { Redis } from "ioredis";
import {
  admissionBurst,
  ADMISSION_WINDOW_SECONDS,
  CALLED_GRACE_MS,
  CALLED_LATE_AFTER_MS,
  CALLED_LOOK_AT,
  CALLED_LOOK_EVERY_MS,
  CALLED_PRESENT_WITHIN_MS,
  DEFAULT_ROOM_EXPIRY,
  MAX_ADMITTED_PER_STEP,
  PRE_QUEUE_POLLS_PER_SECOND,
  PRE_QUEUE_SPREAD_MAX_SECONDS, POLL_AFTER_MAX_SECONDS, POLL_AFTER_MIN_SECONDS, POLL_AFTER_SHARE_OF_WAIT_DIVISOR, type PollResult, type RoomExpiryOptions, type RoomClock, type RoomSnapshot, type RoomStore } from "./room-store.ts";

const SCRIPT = `
local line, adm, exp, log, meta, pollnext, early, called, calleddue = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local op, user = ARGV[1], ARGV[2]
local now, salesStartAt, ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local rate, maxConcurrent, extra = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
local idleTtl, soldOutTtl, extra2 = tonumber(ARGV[9]), tonumber(ARGV[10]), ARGV[11]
-- How many admissions the rate's bucket holds (admissionBurst in room-store.ts, as the memory store).
local burst = tonumber(ARGV[12])
-- The rate a waiting buyer's next ask is planned by (pollRateOf in room-store.ts).
local pollRate = math.max(rate, tonumber(ARGV[13]) or 0)
local maxStep = ${MAX_ADMITTED_PER_STEP}
local pollMin, pollMax, pollShareDivisor = ${POLL_AFTER_MIN_SECONDS}, ${POLL_AFTER_MAX_SECONDS}, ${POLL_AFTER_SHARE_OF_WAIT_DIVISOR}
local windowSeconds, presentMs, lateMs, graceMs = ${ADMISSION_WINDOW_SECONDS}, ${CALLED_PRESENT_WITHIN_MS}, ${CALLED_LATE_AFTER_MS}, ${CALLED_GRACE_MS}
local lookAt, lookEvery = ${CALLED_LOOK_AT}, ${CALLED_LOOK_EVERY_MS}
local preQueuePollsPerSecond, preQueueSpreadMax = ${PRE_QUEUE_POLLS_PER_SECOND}, ${PRE_QUEUE_SPREAD_MAX_SECONDS}

local function flag(name) return redis.call('HGET', meta, name) == '1' end
-- The organiser may cap lower than the platform (and the gateway's gate, createAdmissionGate, to 0).
local function cap()
  local m = redis.call('HGET', meta, 'maxAdmitted')
  if m and m ~= '' then return math.min(tonumber(m), maxConcurrent) end
  return maxConcurrent
end

local function admit(member)
  redis.call('ZADD', adm, now + ttl, member)
  redis.call('ZADD', log, now, member .. ':' .. now)
  redis.call('HSET', meta, 'lastAdmissionEnd', now + ttl)
end

-- Every key of the room expires together (roomExpiresAt in room-store.ts): idleTtl after its last
-- use but not before opening, soldOutTtl after it sold out, never before its last admission ends.
local function keep()
  local soldOutAt = tonumber(redis.call('HGET', meta, 'soldOutAt'))
  local deadline
  if soldOutAt then deadline = soldOutAt + soldOutTtl else deadline = math.max(now, salesStartAt) + idleTtl end
  deadline = math.max(deadline, tonumber(redis.call('HGET', meta, 'lastAdmissionEnd')) or 0)
  for _, key in ipairs(KEYS) do redis.call('PEXPIREAT', key, deadline) end
end

-- Buyers at the front who will not ask soon step aside, called: those behind who are asking are
-- admitted meanwhile, and the called are admitted first when they ask (callAway in the memory store).
local function callAway()
  if now - (tonumber(redis.call('HGET', meta, 'lookedAt')) or 0) < lookEvery then return end
  redis.call('HSET', meta, 'lookedAt', now)
  local front = redis.call('ZRANGE', line, 0, lookAt - 1, 'WITHSCORES')
  if #front == 0 then return end
  local members = {}
  for i = 1, #front, 2 do members[#members + 1] = front[i] end
  local dues = redis.call('HMGET', pollnext, unpack(members))
  for i, member in ipairs(members) do
    local due = tonumber(dues[i])
    if not due or due > now + presentMs or due < now - lateMs then
      redis.call('ZREM', line, member)
      redis.call('ZADD', called, front[2 * i], member)
      if not due or due < now - lateMs then due = now - lateMs end
      redis.call('ZADD', calleddue, due, member)
    end
  end
end

local function step()
  local gone = redis.call('ZRANGEBYSCORE', adm, '-inf', now, 'LIMIT', 0, maxStep)
  for _, member in ipairs(gone) do
    redis.call('ZREM', adm, member)
    redis.call('SADD', exp, member)
  end
  redis.call('ZREMRANGEBYSCORE', log, '-inf', now - 60000)
  if now < salesStartAt then return end
  local tokens = tonumber(redis.call('HGET', meta, 'tokens'))
  local refilled = tonumber(redis.call('HGET', meta, 'refilledAt'))
  if not refilled then tokens = burst else tokens = math.min(burst, tokens + (now - refilled) / 1000 * rate) end
  -- A paused room saves at most one token: a resume admits the front at once and the rest at the
  -- rate (a second's worth saved made a spike; memory store: step).
  if flag('paused') then tokens = math.min(tokens, 1) end
  redis.call('HSET', meta, 'tokens', tostring(tokens), 'refilledAt', now)
  -- Called buyers who did not come back are let go.
  local lost = redis.call('ZRANGEBYSCORE', calleddue, '-inf', '(' .. (now - graceMs), 'LIMIT', 0, maxStep)
  for _, member in ipairs(lost) do
    redis.call('ZREM', called, member)
    redis.call('ZREM', calleddue, member)
    redis.call('HDEL', pollnext, member)
    redis.call('SADD', exp, member)
  end
  if flag('paused') or flag('soldOut') or tokens < 1 then return end
  callAway()
end

-- Admits the buyer now if they may go (near the front, called, or nobody waiting) and the rate, cap
-- and pause allow: admission happens when the buyer asks (tryAdmit in the memory store).
local function tryAdmit(member)
  if now < salesStartAt or flag('paused') or flag('soldOut') then return false end
  local tokens = tonumber(redis.call('HGET', meta, 'tokens')) or 0
  if tokens < 1 or redis.call('ZCARD', adm) >= cap() then return false end
  if redis.call('ZREM', called, member) == 1 then
    redis.call('ZREM', calleddue, member)
  else
    local r = redis.call('ZRANK', line, member)
    if r then
      -- Called buyers about to ask go before those behind them.
      local present = redis.call('ZCOUNT', calleddue, '(' .. (now - lateMs), now + presentMs)
      if present + r >= math.max(1, math.ceil(rate * windowSeconds)) then return false end
      redis.call('ZREM', line, member)
    elseif redis.call('ZCARD', line) + redis.call('ZCARD', called) > 0 then
      return false
    end
  end
  redis.call('HSET', meta, 'tokens', tostring(tokens - 1))
  redis.call('SREM', exp, member)
  admit(member)
  return true
end

local function pollAfter(state, rank, member)
  if state == 'waiting' and now < salesStartAt then
    local toOpen = (salesStartAt - now) / 1000
    local quarter = math.ceil(toOpen / 4)
    local key = tonumber(redis.call('ZSCORE', line, member))
    if quarter > pollMin or not key then return math.min(pollMax, math.max(pollMin, quarter)) end
    local spread = math.min(preQueueSpreadMax, redis.call('ZCARD', line) / preQueuePollsPerSecond)
    return math.max(pollMin, math.ceil(toOpen + key * spread))
  end
  if state == 'waiting' and rank >= 0 then
    local spread = (rank * 0.6180339887) % 1
    local max = math.floor(pollMax * (0.75 + 0.25 * spread))
    return math.min(max, math.max(pollMin, math.ceil((rank / math.max(pollRate, 0.1) / pollShareDivisor) * (0.75 + 0.5 * spread))))
  end
  return 30
end

local function snapshot(member)
  local state, rank, lineRank, untilAt = 'none', -1, -1, -1
  local score = redis.call('ZSCORE', adm, member)
  if score then
    state, untilAt = 'admitted', tonumber(score)
  else
    local c = redis.call('ZRANK', called, member)
    local r = c == false and redis.call('ZRANK', line, member) or false
    if c then
      state = 'waiting'
      -- Position: the place among line and called together, by order key; told when to ask by the
      -- place among the called, not as the front (memory store: snapshot).
      if now >= salesStartAt then rank, lineRank = c + redis.call('ZCOUNT', line, '-inf', '(' .. redis.call('ZSCORE', called, member)), c end
    elseif r then
      state = 'waiting'
      if now >= salesStartAt then rank, lineRank = redis.call('ZCOUNT', called, '-inf', '(' .. redis.call('ZSCORE', line, member)) + r, r end
    elseif redis.call('SISMEMBER', exp, member) == 1 then state = 'expired' end
  end
  local m = redis.call('HGET', meta, 'maxAdmitted')
  local after = pollAfter(state, lineRank, member)
  return { 'snapshot', state, rank, untilAt, redis.call('ZCARD', line) + redis.call('ZCARD', called), redis.call('ZCARD', adm), redis.call('ZCARD', log),
           flag('soldOut') and 1 or 0, flag('paused') and 1 or 0, (m and m ~= '') and tonumber(m) or -1, after }
end

-- The buyer's snapshot, remembering when they were told to ask again (and when a called buyer is let go).
local function told(member)
  local result = snapshot(member)
  if result[2] ~= 'none' then
    local nextAt = now + result[11] * 1000
    redis.call('HSET', pollnext, member, nextAt)
    if redis.call('ZSCORE', called, member) then redis.call('ZADD', calleddue, nextAt, member) end
  end
  keep()
  return result
end

if op == 'join' then
  step()
  local admitted = redis.call('ZSCORE', adm, user)
  if not admitted and not redis.call('ZSCORE', line, user) and not redis.call('ZSCORE', called, user) then
    if flag('soldOut') then return { 'sold_out' } end
    redis.call('SREM', exp, user)
    if now < salesStartAt then
      redis.call('ZADD', line, extra, user)
    else
      redis.call('ZADD', line, 1 + redis.call('HINCRBY', meta, 'seq', 1), user)
    end
  end
  if not admitted then tryAdmit(user) end
  return told(user)
elseif op == 'poll' then
  -- Asking about a room that does not exist (never made, or forgotten) must not make one.
  if redis.call('EXISTS', meta) == 0 and redis.call('EXISTS', line) == 0 and redis.call('EXISTS', adm) == 0 then return snapshot(user) end
  local nextAt = tonumber(redis.call('HGET', pollnext, user))
  if nextAt and now < nextAt - 1000 then
    if redis.call('HINCRBY', early, user, 1) > tonumber(extra) then return { 'too_soon', nextAt - now } end
  else
    redis.call('HDEL', early, user)
  end
  step()
  if redis.call('ZSCORE', line, user) or redis.call('ZSCORE', called, user) then tryAdmit(user) end
  return told(user)
elseif op == 'hold' then
  step()
  keep()
  local score = redis.call('ZSCORE', adm, user)
  if score then return { 'admitted', tonumber(score) } end
  if flag('soldOut') then return { 'sold_out' } end
  if not tryAdmit(user) then return { 'no' } end
  keep()
  return { 'admitted', now + ttl }
elseif op == 'finish' then
  redis.call('ZREM', adm, user)
  redis.call('HDEL', pollnext, user)
  return { 'ok' }
elseif op == 'leave' then
  local had = redis.call('ZREM', line, user) + redis.call('ZREM', called, user) + redis.call('ZREM', adm, user)
  redis.call('ZREM', calleddue, user)
  redis.call('HDEL', pollnext, user)
  redis.call('HDEL', early, user)
  redis.call('SREM', exp, user)
  return { had > 0 and 'left' or 'none' }
elseif op == 'stats' then
  step()
  local result = snapshot('')
  keep()
  return result
elseif op == 'configure' then
  -- Tokens up to now under the old setting: a room resumed after a long pause starts with at most one.
  step()
  if extra ~= '' then redis.call('HSET', meta, 'paused', extra) end
  if extra2 ~= 'keep' then redis.call('HSET', meta, 'maxAdmitted', extra2) end
  keep()
  return { 'ok' }
elseif op == 'soldout' then
  if extra == '1' then
    if not flag('soldOut') then redis.call('HSET', meta, 'soldOut', '1', 'soldOutAt', now) end
    keep()
  elseif redis.call('EXISTS', meta) == 1 then
    -- Seats came back: the room lives by the idle rule again from its next use.
    redis.call('HSET', meta, 'soldOut', '0')
    redis.call('HDEL', meta, 'soldOutAt')
  end
  return { 'ok' }
end
return redis.error_reply('unknown room operation ' .. op)
`;

type Reply = Array<string | number>;

export interface RedisRoomStoreOptions {
  /** redis://host:port/db */
  readonly url: string;
  /** Key prefix, so several platforms (and test files) can share one Redis. */
  readonly prefix: string;
  /** When a room's keys expire; default DEFAULT_ROOM_EXPIRY. */
  readonly expiry?: RoomExpiryOptions;
}

export function createRedisRoomStore(options: RedisRoomStoreOptions): RoomStore {
  // A command never waits long for an absent Redis: it fails within about two seconds and the buyer
  // gets 503 UNAVAILABLE with Retry-After, well inside the request's deadline.
  const redis = new Redis(options.url, { maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 2000 });
  redis.on("error", () => {
    // Reported through the failing commands; ioredis reconnects by itself.
  });
  redis.defineCommand("room", { numberOfKeys: 9, lua: SCRIPT });
  const run = (redis as unknown as { room(...args: Array<string | number>): Promise<Reply> }).room.bind(redis);

  function keys(eventId: string): string[] {
    // One hash tag per event: every key of a room lands on one Redis Cluster slot.
    const base = `${options.prefix}room:{${eventId}}:`;
    return ["line", "adm", "exp", "log", "meta", "pollnext", "early", "called", "calleddue"].map((k) => base + k);
  }

  const expiry = options.expiry ?? DEFAULT_ROOM_EXPIRY;

  function call(op: string, eventId: string, userId: string, clock: Pick<RoomClock, "now"> & Partial<RoomClock> | undefined, extra: string | number = "", extra2 = ""): Promise<Reply> {
    return run(...keys(eventId), op, userId, clock?.now ?? 0, clock?.salesStartAt ?? 0, clock?.admissionTtlMs ?? 0, clock?.ratePerSecond ?? 0, clock?.maxConcurrent ?? 0, extra, expiry.idleTtlMs, expiry.soldOutTtlMs, extra2, admissionBurst(clock?.ratePerSecond ?? 0), clock?.pollRateFloor ?? 0);
  }

  function toSnapshot(reply: Reply): RoomSnapshot {
    const n = (i: number) => Number(reply[i]);
    return {
      state: reply[1] as RoomSnapshot["state"],
      rank: n(2) < 0 ? null : n(2),
      admittedUntil: n(3) < 0 ? null : n(3),
      waiting: n(4),
      admitted: n(5),
      admittedLastMinute: n(6),
      soldOut: n(7) === 1,
      paused: n(8) === 1,
      maxAdmitted: n(9) < 0 ? null : n(9),
      pollAfterSeconds: n(10),
    };
  }

  return {
    async join(eventId, userId, clock, preQueueKey) {
      const reply = await call("join", eventId, userId, clock, preQueueKey);
      return reply[0] === "sold_out" ? "sold_out" : toSnapshot(reply);
    },
    async poll(eventId, userId, clock, earlyPollAllowance): Promise<PollResult> {
      const reply = await call("poll", eventId, userId, clock, earlyPollAllowance);
      if (reply[0] === "too_soon") return { kind: "too_soon", retryAfterMs: Number(reply[1]) };
      return { kind: "snapshot", snapshot: toSnapshot(reply) };
    },
    async admitForHold(eventId, userId, clock) {
      const reply = await call("hold", eventId, userId, clock);
      if (reply[0] === "sold_out") return "sold_out";
      return reply[0] === "admitted" ? Number(reply[1]) : null;
    },
    async finish(eventId, userId) {
      await call("finish", eventId, userId, undefined);
    },
    async leave(eventId, userId) {
      return (await call("leave", eventId, userId, undefined))[0] === "left";
    },
    async stats(eventId, clock) {
      return toSnapshot(await call("stats", eventId, "", clock));
    },
    async configure(eventId, change, clock) {
      const paused = change.paused === undefined ? "" : change.paused ? "1" : "0";
      const maxAdmitted = change.maxAdmitted === undefined ? "keep" : change.maxAdmitted === null ? "" : String(change.maxAdmitted);
      await call("configure", eventId, "", clock, paused, maxAdmitted);
    },
    async rooms() {
      // SCAN, not KEYS: an operator's poll never blocks Redis; bounded to the first 10,000 keys of rooms.
      const found = new Set<string>();
      let cursor = "0";
      let seen = 0;
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${options.prefix}room:{*}:*`, "COUNT", 1000);
        cursor = next;
        seen += keys.length;
        for (const key of keys) {
          const id = /room:\{([^}]*)\}:/.exec(key)?.[1];
          if (id) found.add(id);
        }
      } while (cursor !== "0" && seen < 10_000);
      return [...found];
    },
    async setSoldOut(eventId, soldOut, now) {
      // Availability changes of every event arrive here: only a room that exists (or an event that just
      // sold out, for its sold-out time) is written, so quiet events leave no keys behind.
      await call("soldout", eventId, "", { now }, soldOut ? "1" : "0");
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
