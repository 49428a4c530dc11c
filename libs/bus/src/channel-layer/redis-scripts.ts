// Lua scripts of the Redis channel layer. Each runs atomically on the server, which is what makes
// the capacity check exact under concurrent senders (channels_redis checks, then adds, and can
// overshoot). A stored frame is "<expiresAt ms, 15 digits><local parts joined by ','>\n<payload>".
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

export interface LuaScript {
  readonly lua: string;
  readonly sha: string;
}

function script(lua: string): LuaScript {
  return { lua, sha: createHash("sha1").update(lua).digest("hex") };
}

/**
 * Every send to one host issued in the same tick, as one call. KEYS: destination lists, each once.
 * ARGV[1] now (ms), ARGV[2] key ttl (ms), then for each key: its capacity, a count n, and n frames
 * oldest first. Each list takes as many of its frames as it has room for, in order, and refuses the
 * rest: exactly what n separate sends would do, one message at a time. Expired frames at a list's
 * head are dropped first when they would cost a message its room. One RPUSH and one PEXPIRE per
 * list, whatever n is. Returns, per key, how many of its frames were accepted.
 */
export const SEND_SCRIPT = script(`
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local accepted = {}
local at = 3
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[at])
  local count = tonumber(ARGV[at + 1])
  local first = at + 2
  at = first + count
  local length = redis.call('LLEN', key)
  -- Expired frames only matter when they would count against capacity: trim them then.
  while length > 0 and length + count > capacity do
    local head = redis.call('LINDEX', key, 0)
    if not head then break end
    local expires = tonumber(string.sub(head, 1, 15))
    if expires and expires > now then break end -- unreadable frames count as expired
    redis.call('LPOP', key)
    length = length - 1
  end
  local room = capacity - length
  if room > count then room = count end
  if room > 0 then
    redis.call('RPUSH', key, unpack(ARGV, first, first + room - 1))
    redis.call('PEXPIRE', key, ttl)
  else
    room = 0
  end
  accepted[i] = room
end
return accepted
`);

/**
 * SEND_SCRIPT for the commonest call, one frame to one list (a reply to a waiting caller, a lone
 * request): KEYS[1] the list, ARGV[1] now (ms), ARGV[2] key ttl (ms), ARGV[3] capacity, ARGV[4] the
 * frame. Pushes first and takes the frame back when that went past capacity (inside the script,
 * so no reader ever sees it), which leaves one RPUSH and one PEXPIRE on the usual path instead of
 * LLEN, RPUSH and PEXPIRE. Refuses exactly as SEND_SCRIPT does, expired heads trimmed the same way.
 * Returns 1 when stored, 0 when the list was full.
 */
export const SEND_ONE_SCRIPT = script(`
local key = KEYS[1]
local capacity = tonumber(ARGV[3])
local length = redis.call('RPUSH', key, ARGV[4])
if length > capacity then
  redis.call('RPOP', key)
  length = length - 1
  local now = tonumber(ARGV[1])
  while length > 0 and length + 1 > capacity do
    local head = redis.call('LINDEX', key, 0)
    if not head then break end
    local expires = tonumber(string.sub(head, 1, 15))
    if expires and expires > now then break end -- unreadable frames count as expired
    redis.call('LPOP', key)
    length = length - 1
  end
  if length + 1 > capacity then return 0 end
  redis.call('RPUSH', key, ARGV[4])
end
redis.call('PEXPIRE', key, ARGV[2])
return 1
`);

/** KEYS[1]: a list. ARGV[1] key ttl (ms), then frames oldest first: puts them back at the head, in order. */
export const PUSH_BACK_SCRIPT = script(`
for i = #ARGV, 2, -1 do
  redis.call('LPUSH', KEYS[1], ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return #ARGV - 1
`);

// ioredis has these at run time but does not declare them. Unlike callBuffer("EVALSHA", …) they
// also work on an auto-pipelined connection (which takes callBuffer's first argument for the name).
type ScriptCalls = Redis & {
  evalshaBuffer(sha: string, numKeys: number, ...rest: Array<string | Buffer | number>): Promise<unknown>;
  evalBuffer(lua: string, numKeys: number, ...rest: Array<string | Buffer | number>): Promise<unknown>;
};

/** Runs a script by hash, loading it on the first NOSCRIPT (new or restarted server). */
export async function runScript(conn: Redis, s: LuaScript, keys: string[], args: Array<string | Buffer | number>): Promise<unknown> {
  try {
    return await (conn as ScriptCalls).evalshaBuffer(s.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error as Error).message?.startsWith("NOSCRIPT")) throw error;
    return await (conn as ScriptCalls).evalBuffer(s.lua, keys.length, ...keys, ...args);
  }
}
