// Which refresh tokens are still good. Each login starts a family; every refresh replaces the
// family's current token with a new one (rotation). Presenting a token the family has moved past
// means two parties hold it — the buyer and a thief — so the whole family is revoked (reuse
// detection) and both must sign in again. Sign-out revokes the family at once. Only SHA-256 hashes
// of tokens are kept. In distributed mode the ledger lives in Redis (every instance sees the same
// families), in one process in memory.
//
// Two requests of one browser may refresh the same token at once (two gateways, a page's parallel
// calls): the one that comes second within GRACE_SECONDS is told which successor the first got
// ("raced"), so it can hand out the very same token instead of setting off reuse detection.
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

/** How long after a rotation the token it replaced still counts as a racing twin, not a reuse. */
export const GRACE_SECONDS = 10;

export type RotateOutcome =
  | { kind: "rotated" }
  /** The presented token was rotated `rotatedAt` (epoch s) into `successorHash`, within the grace. */
  | { kind: "raced"; successorHash: string; rotatedAt: number }
  /** A replaced token came back after the grace: the family is revoked now. */
  | { kind: "reused" }
  /** Never issued here, expired, or its family was revoked. */
  | { kind: "unknown" };

export interface RefreshLedger {
  /** Records the first token of a new family (a login). */
  start(tokenHash: string, ttlSeconds: number): Promise<void>;
  /** Replaces `presentedHash` by `nextHash` in its family when it is the current one. */
  rotate(presentedHash: string, nextHash: string, nowSeconds: number, ttlSeconds: number): Promise<RotateOutcome>;
  /** Revokes the family of `tokenHash` (sign-out); unknown tokens are ignored. */
  revoke(tokenHash: string): Promise<void>;
  close(): Promise<void>;
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("base64url");
}

interface Family {
  current: string;
  previous?: string;
  rotatedAt?: number;
  revoked: boolean;
  expiresAt: number;
}

export function createMemoryRefreshLedger(now: () => number = Date.now): RefreshLedger {
  const familyOf = new Map<string, { family: string; expiresAt: number }>();
  const families = new Map<string, Family>();
  const live = <T extends { expiresAt: number }>(value: T | undefined) => (value && value.expiresAt > now() ? value : undefined);
  return {
    async start(tokenHash, ttlSeconds) {
      const expiresAt = now() + ttlSeconds * 1000;
      familyOf.set(tokenHash, { family: tokenHash, expiresAt });
      families.set(tokenHash, { current: tokenHash, revoked: false, expiresAt });
    },
    async rotate(presentedHash, nextHash, nowSeconds, ttlSeconds) {
      const link = live(familyOf.get(presentedHash));
      const family = link && live(families.get(link.family));
      if (!link || !family || family.revoked) return { kind: "unknown" };
      if (family.current === presentedHash) {
        const expiresAt = now() + ttlSeconds * 1000;
        Object.assign(family, { previous: presentedHash, current: nextHash, rotatedAt: nowSeconds, expiresAt });
        familyOf.set(nextHash, { family: link.family, expiresAt });
        return { kind: "rotated" };
      }
      if (family.previous === presentedHash && family.rotatedAt !== undefined && nowSeconds - family.rotatedAt <= GRACE_SECONDS) {
        return { kind: "raced", successorHash: family.current, rotatedAt: family.rotatedAt };
      }
      family.revoked = true;
      return { kind: "reused" };
    },
    async revoke(tokenHash) {
      const link = live(familyOf.get(tokenHash));
      const family = link && families.get(link.family);
      if (family) family.revoked = true;
    },
    async close() {
      familyOf.clear();
      families.clear();
    },
  };
}

// KEYS[1] = token → family, KEYS[2] = next token → family; ARGV: presented, next, now, ttl, grace, prefix.
// The family hash: current, previous, rotatedAt, revoked. One script, so two instances rotating the
// same token at once cannot both win.
const ROTATE_SCRIPT = `
local family = redis.call('GET', KEYS[1])
if not family then return {'unknown'} end
local fkey = ARGV[6] .. ':rf:' .. family
local f = redis.call('HMGET', fkey, 'current', 'previous', 'rotatedAt', 'revoked')
if not f[1] or f[4] == '1' then return {'unknown'} end
if f[1] == ARGV[1] then
  redis.call('HSET', fkey, 'current', ARGV[2], 'previous', ARGV[1], 'rotatedAt', ARGV[3])
  redis.call('EXPIRE', fkey, ARGV[4])
  redis.call('SET', KEYS[2], family, 'EX', ARGV[4])
  return {'rotated'}
end
if f[2] == ARGV[1] and f[3] and tonumber(ARGV[3]) - tonumber(f[3]) <= tonumber(ARGV[5]) then
  return {'raced', f[1], f[3]}
end
redis.call('HSET', fkey, 'revoked', '1')
return {'reused'}
`;

export function createRedisRefreshLedger(redis: Redis, prefix: string): RefreshLedger {
  const tokenKey = (hash: string) => `${prefix}:rt:${hash}`;
  const familyKey = (family: string) => `${prefix}:rf:${family}`;
  return {
    async start(tokenHash, ttlSeconds) {
      await redis
        .multi()
        .set(tokenKey(tokenHash), tokenHash, "EX", ttlSeconds)
        .hset(familyKey(tokenHash), "current", tokenHash, "revoked", "0")
        .expire(familyKey(tokenHash), ttlSeconds)
        .exec();
    },
    async rotate(presentedHash, nextHash, nowSeconds, ttlSeconds) {
      const reply = (await redis.eval(ROTATE_SCRIPT, 2, tokenKey(presentedHash), tokenKey(nextHash), presentedHash, nextHash, nowSeconds, ttlSeconds, GRACE_SECONDS, prefix)) as string[];
      if (reply[0] === "raced") return { kind: "raced", successorHash: reply[1], rotatedAt: Number(reply[2]) };
      return { kind: reply[0] as "rotated" | "reused" | "unknown" };
    },
    async revoke(tokenHash) {
      const family = await redis.get(tokenKey(tokenHash));
      if (family) await redis.hset(familyKey(family), "revoked", "1");
    },
    async close() {
      redis.disconnect();
    },
  };
}
