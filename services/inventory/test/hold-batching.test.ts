// Group commit of holds: many holds of one event in one transaction, each buyer with the answer the
// one-request path would have given them.
import { RpcError } from "@boxoffice/bus";
import type { Hold } from "@boxoffice/contracts";
import { requirePostgres } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { confirmBatchStats, confirmHoldGrouped } from "../src/domain/confirm-batcher.ts";
import { holdBatchStats, holdByQuantityGrouped } from "../src/domain/hold-batcher.ts";
import { activeHoldsOf, availabilityOf, eventShard, placeHold, releaseHold, seatEvent } from "../src/domain/holds.ts";
import { confirmHoldBatch } from "../src/store/confirm-batch-store.ts";
import { holdByQuantityBatch } from "../src/store/hold-batch-store.ts";
import { readOrderOfHold, type ConfirmInput } from "../src/store/order-store.ts";
import type { HoldOutcome, NewHold } from "../src/store/hold-store.ts";
import { createDomainFixture, type DomainFixture } from "./support/domain-fixture.ts";
import { catalogueEvent } from "./support/events.ts";

const postgres = await requirePostgres();
// The Postgres variant is always declared: without Postgres it shows as skipped, never vanishes.
const kinds = ["pglite", "postgres"] as const;

type Settled = { ok: true; hold: Hold } | { ok: false; code: string; details: unknown };

async function settle(promise: Promise<Hold>): Promise<Settled> {
  try {
    return { ok: true, hold: await promise };
  } catch (error) {
    if (error instanceof RpcError) return { ok: false, code: error.code, details: error.details };
    throw error;
  }
}

for (const kind of kinds) describe.skipIf(kind === "postgres" && !postgres.available)(`group commit of holds (${kind})`, () => {
  let f: DomainFixture;
  beforeAll(async () => {
    f = await createDomainFixture(kind, { holdTtlSeconds: 600, maxActiveHoldsPerBuyer: 100 });
  });
  afterAll(async () => {
    await f?.close();
  });

  function newHold(eventId: string, buyerId: string, expiresAt = new Date(Date.now() + 600_000)): NewHold {
    return { holdId: f.deps.ids.childOf(eventId), eventId, buyerId, logicalShard: f.deps.shards.logicalShardOfId(eventId), expiresAt };
  }

  /** Seats, counters and usage of an event agree with each other and with its active holds. */
  async function expectConsistent(eventId: string): Promise<{ held: number; available: number }> {
    const sql = eventShard(f.deps, eventId);
    const seats = (await sql.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM inventory.seats WHERE event_id = $1 GROUP BY status`, [eventId])).rows;
    const count = (status: string) => Number(seats.find((s) => s.status === status)?.n ?? 0);
    const counters = (await sql.query<{ n: number }>(`SELECT coalesce(sum(available), 0)::int AS n FROM inventory.section_counters WHERE event_id = $1`, [eventId])).rows[0];
    const holds = (
      await sql.query<{ seat_ids: string[]; buyer_id: string }>(`SELECT seat_ids, buyer_id FROM inventory.holds WHERE event_id = $1 AND status = 'active'`, [eventId])
    ).rows;
    const usage = (await sql.query<{ buyer_id: string; seats: number }>(`SELECT buyer_id, seats FROM inventory.buyer_usage WHERE event_id = $1`, [eventId])).rows;
    const heldIds = holds.flatMap((h) => h.seat_ids);
    expect(new Set(heldIds).size).toBe(heldIds.length);
    expect(heldIds.length).toBe(count("held"));
    expect(Number(counters.n)).toBe(count("available"));
    const perBuyer = new Map<string, number>();
    for (const h of holds) perBuyer.set(h.buyer_id, (perBuyer.get(h.buyer_id) ?? 0) + h.seat_ids.length);
    for (const u of usage) expect(Number(u.seats), `usage of ${u.buyer_id}`).toBe(perBuyer.get(u.buyer_id) ?? 0);
    for (const [buyer, n] of perBuyer) expect(n, `seats of ${buyer}`).toBeLessThanOrEqual(8);
    return { held: count("held"), available: count("available") };
  }

  it("when 60 buyers hold 1 or 2 seats of 50 at once, batches serve them, no seat is held twice and the rest hear SOLD_OUT with the seats left", async () => {
    const event = catalogueEvent([
      { name: "Stalls", rows: 4, seatsPerRow: 5, priceCents: 3000 },
      { name: "Balcony", rows: 3, seatsPerRow: 10, priceCents: 2000 },
    ]);
    await seatEvent(event, f.deps);
    const before = { ...holdBatchStats };
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => settle(placeHold({ buyerId: `crowd-${i}`, eventId: event.id, quantity: 1 + (i % 2) }, f.deps))),
    );
    expect(holdBatchStats.batches).toBeGreaterThan(before.batches);
    expect(holdBatchStats.servedInBatch).toBeGreaterThan(before.servedInBatch);
    const won = results.filter((r): r is Extract<Settled, { ok: true }> => r.ok).map((r) => r.hold);
    const lost = results.filter((r): r is Extract<Settled, { ok: false }> => !r.ok);
    expect(lost.map((r) => r.code).filter((c) => c !== "SOLD_OUT")).toEqual([]);
    expect(lost.length).toBeGreaterThan(0);
    const seatIds = won.flatMap((h) => h.seats.map((s) => s.id));
    expect(new Set(seatIds).size).toBe(seatIds.length);
    for (const [i, r] of results.entries()) if (r.ok) expect(r.hold.seats).toHaveLength(1 + (i % 2));
    // Cheapest section first, and each hold's total is its seats' prices.
    for (const h of won) expect(h.totalCents).toBe(h.seats.reduce((sum, s) => sum + (s.section === "Balcony" ? 2000 : 3000), 0));
    const state = await expectConsistent(event.id);
    expect(state.held).toBe(seatIds.length);
    expect((await availabilityOf(event.id, f.deps)).available).toBe(50 - seatIds.length);
    // A buyer turned away asked for more than was left at that moment.
    for (const r of lost) expect((r.details as { available: number }).available).toBeLessThan(2);
    expect(50 - seatIds.length).toBeLessThan(2);
  });

  it("when one buyer is in a batch twice, their second request sees the seats of their first (LIMIT_EXCEEDED), and the others are served", async () => {
    const event = catalogueEvent([{ name: "Stalls", rows: 4, seatsPerRow: 10, priceCents: 1000 }]);
    await seatEvent(event, f.deps);
    const sql = eventShard(f.deps, event.id);
    const outcomes = await holdByQuantityBatch(sql, [
      { hold: newHold(event.id, "twice"), quantity: 5 },
      { hold: newHold(event.id, "other"), quantity: 2 },
      { hold: newHold(event.id, "twice"), quantity: 4 },
      { hold: newHold(event.id, "twice"), quantity: 3 },
    ]);
    expect(outcomes.map((o) => (o?.ok ? o.hold.seats.length : o?.reason))).toEqual([5, 2, "LIMIT_EXCEEDED", 3]);
    expect(outcomes[2]).toEqual({ ok: false, reason: "LIMIT_EXCEEDED", held: 5 });
    // 8 now held by "twice": a next batch refuses even one seat, as the one-request path does.
    const next = await holdByQuantityBatch(sql, [
      { hold: newHold(event.id, "twice"), quantity: 1 },
      { hold: newHold(event.id, "late"), quantity: 8 },
    ]);
    expect(next[0]).toEqual({ ok: false, reason: "LIMIT_EXCEEDED", held: 8 });
    expect(next[1]?.ok && next[1].hold.seats).toHaveLength(8);
    // Adjacent seats in one row when a row has them.
    const five = (outcomes[0] as Extract<HoldOutcome, { ok: true }>).hold.seats;
    expect(new Set(five.map((s) => s.row)).size).toBe(1);
    expect(five.map((s) => s.number)).toEqual(five.map((_, i) => five[0].number + i));
    const state = await expectConsistent(event.id);
    expect(state).toEqual({ held: 18, available: 22 });
  });

  it("when a batch has more requests than seats, the ones it cannot serve are left to the one-request path, which answers SOLD_OUT", async () => {
    const event = catalogueEvent([{ name: "Stalls", rows: 1, seatsPerRow: 5, priceCents: 1000 }]);
    await seatEvent(event, f.deps);
    const sql = eventShard(f.deps, event.id);
    const outcomes = await holdByQuantityBatch(sql, [
      { hold: newHold(event.id, "a"), quantity: 2 },
      { hold: newHold(event.id, "b"), quantity: 2 },
      { hold: newHold(event.id, "c"), quantity: 2 },
      { hold: newHold(event.id, "d"), quantity: 1 },
    ]);
    expect(outcomes.map((o) => (o ? (o.ok ? o.hold.seats.length : o.reason) : "alone"))).toEqual([2, 2, "alone", 1]);
    expect(await expectConsistent(event.id)).toEqual({ held: 5, available: 0 });
    const refused = await settle(placeHold({ buyerId: "c", eventId: event.id, quantity: 2 }, f.deps));
    expect(refused).toMatchObject({ ok: false, code: "SOLD_OUT", details: { available: 0 } });
  });

  it("when a batch meets an event that is not on sale or has no seats here, every request is left to the one-request path", async () => {
    const unknown = catalogueEvent([{ name: "Stalls", rows: 1, seatsPerRow: 5, priceCents: 1000 }]);
    const sql = eventShard(f.deps, unknown.id);
    expect(await holdByQuantityBatch(sql, [{ hold: newHold(unknown.id, "a"), quantity: 1 }, { hold: newHold(unknown.id, "b"), quantity: 1 }])).toEqual([undefined, undefined]);
    expect(await settle(placeHold({ buyerId: "a", eventId: unknown.id, quantity: 1 }, f.deps))).toMatchObject({ ok: false, code: "NOT_FOUND" });
  });

  it("when one request of a batch is one the database refuses, the batch falls back to one by one and only that request fails", async () => {
    const event = catalogueEvent([{ name: "Stalls", rows: 2, seatsPerRow: 10, priceCents: 1000 }]);
    await seatEvent(event, f.deps);
    const sql = eventShard(f.deps, event.id);
    const before = { ...holdBatchStats };
    // Called in one tick: the first runs alone at once, the next three queue and go as one batch.
    const calls = [
      holdByQuantityGrouped(sql, newHold(event.id, "first"), 2, f.deps),
      holdByQuantityGrouped(sql, newHold(event.id, "good-1"), 2, f.deps),
      holdByQuantityGrouped(sql, newHold(event.id, "broken", new Date(Number.NaN)), 2, f.deps),
      holdByQuantityGrouped(sql, newHold(event.id, "good-2"), 3, f.deps),
    ];
    const settled = await Promise.allSettled(calls);
    expect(holdBatchStats.batches - before.batches).toBe(1);
    expect(holdBatchStats.batchFailures - before.batchFailures).toBe(1);
    expect(settled.map((s) => (s.status === "fulfilled" ? (s.value.ok ? s.value.hold.seats.length : s.value.reason) : "error"))).toEqual([2, 2, "error", 3]);
    expect(await expectConsistent(event.id)).toEqual({ held: 7, available: 13 });
  });

  it("when holds of a hot event arrive spread out, they wait a few ms for company and share transactions, each buyer with their own answer; a quiet event's first hold does not wait", async () => {
    const event = catalogueEvent([{ name: "Stalls", rows: 2, seatsPerRow: 10, priceCents: 1000 }]);
    await seatEvent(event, f.deps);
    const sql = eventShard(f.deps, event.id);
    const deps = { ...f.deps, batchWait: { ms: 40, hotMs: 1_000 } };
    const before = { ...holdBatchStats };
    const calls = [holdByQuantityGrouped(sql, newHold(event.id, "spread-0"), 1, deps)];
    // The event was quiet: the first hold's transaction started in the call itself, no timer between.
    expect(holdBatchStats.transactions - before.transactions).toBe(1);
    // Seven more, one every 4 ms: each would find the lane idle and run alone without the wait.
    for (let i = 1; i < 8; i++) {
      await new Promise((resolve) => setTimeout(resolve, 4));
      calls.push(holdByQuantityGrouped(sql, newHold(event.id, `spread-${i}`), 1 + (i % 2), deps));
    }
    const outcomes = await Promise.all(calls);
    expect(holdBatchStats.transactions - before.transactions).toBeLessThanOrEqual(3);
    expect(holdBatchStats.servedInBatch - before.servedInBatch).toBeGreaterThanOrEqual(5);
    // Every buyer got the seats they asked for, as the one-request path would have given them.
    expect(outcomes.map((o) => (o.ok ? o.hold.seats.length : o.reason))).toEqual([1, 2, 1, 2, 1, 2, 1, 2]);
    const seatIds = outcomes.flatMap((o) => (o.ok ? o.hold.seats.map((s) => s.id) : []));
    expect(new Set(seatIds).size).toBe(12);
    expect(await expectConsistent(event.id)).toEqual({ held: 12, available: 8 });
  });

  it("when many buyers' active holds are counted at once, each buyer gets their own count, and a count asked for after a hold includes it", async () => {
    const events = Array.from({ length: 3 }, () => catalogueEvent([{ name: "Stalls", rows: 2, seatsPerRow: 10, priceCents: 1000 }]));
    for (const event of events) await seatEvent(event, f.deps);
    const holdsOf = (i: number) => i % 4; // buyer i holds i % 4 holds (at most 3 events)
    const buyers = Array.from({ length: 24 }, (_, i) => `counted-${i}`);
    const placed = await Promise.all(
      buyers.flatMap((buyerId, i) => events.slice(0, holdsOf(i)).map(async (event) => ({ buyerId, hold: await placeHold({ buyerId, eventId: event.id, quantity: 1 }, f.deps) }))),
    );
    const counts = await Promise.all(buyers.map((buyerId) => activeHoldsOf(buyerId, f.deps)));
    expect(counts).toEqual(buyers.map((_, i) => holdsOf(i)));
    // A release, then a count asked for at once by many: every one of them sees the release.
    const oneOf3 = placed.find((p) => p.buyerId === "counted-3")!;
    await releaseHold({ buyerId: "counted-3", holdId: oneOf3.hold.id }, f.deps);
    const again = await Promise.all(buyers.map((buyerId) => activeHoldsOf(buyerId, f.deps)));
    expect(again).toEqual(buyers.map((b, i) => holdsOf(i) - (b === "counted-3" ? 1 : 0)));
  });

  function confirmInput(holdId: string, paymentId: string, amountCents: number, eventId?: string): ConfirmInput {
    let codes = 0;
    return {
      holdId,
      paymentId,
      amountCents,
      eventId,
      newOrderId: (id) => f.deps.ids.childOf(id),
      newTicketId: (id) => f.deps.ids.childOf(id),
      newTicketCode: () => `CODE-${paymentId}-${codes++}`,
    };
  }

  it("when usual confirmations share a batch they are confirmed together, exactly as one at a time would; the unusual ones are left to the one-confirmation path", async () => {
    const event = catalogueEvent([{ name: "Stalls", rows: 2, seatsPerRow: 10, priceCents: 1500 }]);
    await seatEvent(event, f.deps);
    const holds = [];
    for (let i = 0; i < 5; i++) holds.push(await placeHold({ buyerId: `payer-${i}`, eventId: event.id, quantity: 1 + (i % 3) }, f.deps));
    const sql = eventShard(f.deps, event.id);
    const unknown = f.deps.ids.childOf(event.id);
    const outcomes = await confirmHoldBatch(sql, [
      confirmInput(holds[0].id, "pay-a", holds[0].totalCents),
      confirmInput(holds[1].id, "pay-b", holds[1].totalCents),
      confirmInput(holds[2].id, "pay-c", holds[2].totalCents + 1), // not its amount
      confirmInput(unknown, "pay-d", 1000), // no such hold
      confirmInput(holds[3].id, "pay-e", holds[3].totalCents, "firehose-event-1"), // a firehose event to record
      confirmInput(holds[4].id, "pay-f", holds[4].totalCents),
    ]);
    expect(outcomes.map((o) => o?.kind ?? "alone")).toEqual(["confirmed", "confirmed", "alone", "alone", "alone", "confirmed"]);
    for (const [i, h] of [holds[0], holds[1], holds[4]].entries()) {
      const outcome = outcomes[[0, 1, 5][i]];
      if (outcome?.kind !== "confirmed") throw new Error("expected a confirmation");
      expect(outcome.order.tickets.map((t) => t.seatId).sort()).toEqual(h.seats.map((s) => s.id).sort());
      // What the order shows when read back is what the batch answered.
      expect(await readOrderOfHold(sql, h.id)).toEqual(outcome.order);
    }
    const sold = (await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM inventory.seats WHERE event_id = $1 AND status = 'sold'`, [event.id])).rows[0];
    expect(Number(sold.n)).toBe(holds[0].seats.length + holds[1].seats.length + holds[4].seats.length);
    const decided = (await sql.query<{ payment_id: string }>(`SELECT payment_id FROM inventory.payment_outcomes WHERE hold_id = ANY($1::text[]) ORDER BY payment_id`, [holds.map((h) => h.id)])).rows;
    expect(decided.map((d) => d.payment_id)).toEqual(["pay-a", "pay-b", "pay-f"]);
  });

  it("when the same hold is paid twice in one batch of confirmations, one payment confirms it and the other is refunded, as one at a time", async () => {
    const event = catalogueEvent([{ name: "Stalls", rows: 1, seatsPerRow: 10, priceCents: 1000 }]);
    await seatEvent(event, f.deps);
    const holds = [];
    for (let i = 0; i < 3; i++) holds.push(await placeHold({ buyerId: `double-${i}`, eventId: event.id, quantity: 2 }, f.deps));
    const sql = eventShard(f.deps, event.id);
    const before = { ...confirmBatchStats };
    // One tick: the first runs alone at once, the next three queue; the repeat of hold 1 goes alone after the batch.
    const outcomes = await Promise.all([
      confirmHoldGrouped(sql, confirmInput(holds[0].id, "dbl-0", 2000), f.deps),
      confirmHoldGrouped(sql, confirmInput(holds[1].id, "dbl-1", 2000), f.deps),
      confirmHoldGrouped(sql, confirmInput(holds[1].id, "dbl-1-again", 2000), f.deps),
      confirmHoldGrouped(sql, confirmInput(holds[2].id, "dbl-2", 2000), f.deps),
    ]);
    expect(confirmBatchStats.batches - before.batches).toBe(1);
    expect(confirmBatchStats.servedInBatch - before.servedInBatch).toBe(2);
    expect(outcomes.map((o) => o.kind)).toEqual(["confirmed", "confirmed", "refund", "confirmed"]);
    expect(outcomes[2]).toMatchObject({ kind: "refund", reason: "hold already paid" });
    // A replay of a decided payment answers the same order.
    const replay = await confirmHoldGrouped(sql, confirmInput(holds[1].id, "dbl-1", 2000), f.deps);
    expect(replay).toMatchObject({ kind: "confirmed", order: { id: (outcomes[1] as { order: { id: string } }).order.id } });
  });

  it("when quantity holds are batched while others pick chosen seats, no seat is held twice", async () => {
    const event = catalogueEvent([{ name: "Stalls", rows: 3, seatsPerRow: 8, priceCents: 1000 }]);
    await seatEvent(event, f.deps);
    const sql = eventShard(f.deps, event.id);
    const ids = (await sql.query<{ id: string }>(`SELECT id FROM inventory.seats WHERE event_id = $1 ORDER BY row, number`, [event.id])).rows.map((r) => r.id);
    const results = await Promise.all([
      ...Array.from({ length: 16 }, (_, i) => settle(placeHold({ buyerId: `qty-${i}`, eventId: event.id, quantity: 2 }, f.deps))),
      ...Array.from({ length: 8 }, (_, i) => settle(placeHold({ buyerId: `pick-${i}`, eventId: event.id, seatIds: [ids[i * 3], ids[i * 3 + 1]] }, f.deps))),
    ]);
    expect(results.filter((r) => !r.ok).map((r) => (r as { code: string }).code).filter((c) => c !== "SOLD_OUT" && c !== "SEAT_UNAVAILABLE")).toEqual([]);
    const seatIds = results.flatMap((r) => (r.ok ? r.hold.seats.map((s) => s.id) : []));
    expect(new Set(seatIds).size).toBe(seatIds.length);
    expect((await expectConsistent(event.id)).held).toBe(seatIds.length);
  });
});
