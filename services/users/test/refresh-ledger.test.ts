// The refresh token ledger on its own, in memory and on Redis: rotation, racing twins within the
// grace, reuse after it, revocation. Times are passed in, so nothing here sleeps.
import { requireRedis, uniqueName } from "@boxoffice/testkit";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { createMemoryRefreshLedger, createRedisRefreshLedger, GRACE_SECONDS, type RefreshLedger } from "../src/domain/refresh-ledger.ts";

const redis = await requireRedis();
const targets = [
  { name: "memory", available: true, make: () => createMemoryRefreshLedger() },
  { name: "Redis", available: redis.available, make: () => createRedisRefreshLedger(new Redis(redis.url), uniqueName("ledger")) },
];

describe.each(targets)("refresh token ledger ($name)", (target) => {
  let ledger: RefreshLedger | undefined;
  afterEach(async () => {
    await ledger?.close();
  });

  it.skipIf(!target.available)("when the replaced token comes back within the grace, it is a racing twin and gets the successor; after the grace, the family is revoked", async () => {
    ledger = target.make();
    const t0 = 1_000_000;
    await ledger.start("a", 3600);
    expect(await ledger.rotate("a", "b", t0, 3600)).toEqual({ kind: "rotated" });
    expect(await ledger.rotate("a", "x", t0 + GRACE_SECONDS, 3600)).toEqual({ kind: "raced", successorHash: "b", rotatedAt: t0 });
    expect(await ledger.rotate("a", "y", t0 + GRACE_SECONDS + 1, 3600)).toEqual({ kind: "reused" });
    // Reuse revoked the family: the current token is refused too.
    expect(await ledger.rotate("b", "c", t0 + GRACE_SECONDS + 2, 3600)).toEqual({ kind: "unknown" });
  });

  it.skipIf(!target.available)("when a family is revoked at sign-out, its current token is unknown; other families are untouched", async () => {
    ledger = target.make();
    await ledger.start("a", 3600);
    await ledger.start("z", 3600);
    await ledger.rotate("a", "b", 1, 3600);
    await ledger.revoke("b");
    expect(await ledger.rotate("b", "c", 2, 3600)).toEqual({ kind: "unknown" });
    expect(await ledger.rotate("z", "z2", 2, 3600)).toEqual({ kind: "rotated" });
    await ledger.revoke("never-issued");
  });
});
