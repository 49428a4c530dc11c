// Group commit of holds, measured where it acts: the hold use case called directly (no bus, no
// gateway, no waiting room), CONCURRENCY buyers holding 2 seats each on one hot event, with group
// commit off (INVENTORY_HOLD_BATCH_MAX=1) and on (64), on PGlite (in this process) and on Postgres
// (one physical shard, like `checkout-cost --shards 1`). Per hold: SQL statements sent (BEGIN and
// COMMIT included), CPU of this process and of the Postgres backends serving it (/proc), holds/s.
// Then every hold is confirmed, CONCURRENCY at once, with confirmation group commit off / on alike
// (INVENTORY_CONFIRM_BATCH_MAX = the same value): the same figures per confirmation.
// Run: node bench/hold-batching.ts [--kinds pglite,postgres] [--holds 3000] [--concurrency 64]
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { createIdGenerator, createShardRouter, createTestShardMap, logicalShardOf, logicalShardOfId, migrate } from "@boxoffice/sharding";
import { percentile } from "@boxoffice/testkit";
import { confirmBatchStats, confirmHoldGrouped } from "../src/domain/confirm-batcher.ts";
import { holdBatchStats } from "../src/domain/hold-batcher.ts";
import { eventShard, placeHold, seatEvent } from "../src/domain/holds.ts";
import type { InventoryDeps } from "../src/domain/ports.ts";
import type { ShardSql, Sql } from "../src/store/sql.ts";
import { MIGRATIONS_DIR } from "../test/support/domain-fixture.ts";
import { catalogueEvent } from "../test/support/events.ts";

const { values } = parseArgs({
  options: {
    kinds: { type: "string", default: "pglite,postgres" },
    holds: { type: "string", default: "3000" },
    concurrency: { type: "string", default: "64" },
    batches: { type: "string", default: "1,64" },
  },
});
const HOLDS = Number(values.holds);
const CONCURRENCY = Number(values.concurrency);
const ROWS = 100;
const SEATS_PER_ROW = 100;

const counts = { statements: 0 };
function counting(sql: Sql): Sql {
  return {
    get shard() {
      return sql.shard;
    },
    query(text, params) {
      counts.statements++;
      return sql.query(text, params);
    },
    transaction(fn) {
      counts.statements += 2; // BEGIN, COMMIT (or ROLLBACK)
      return sql.transaction((tx) => fn(counting(tx)));
    },
  };
}

/** utime + stime of a process in ms (0 when it is gone or unreadable). */
function cpuMsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

interface Row {
  kind: string;
  batchMax: number;
  holdsPerSecond: number;
  statementsPerHold: number;
  nodeCpuMsPerHold: number;
  pgCpuMsPerHold: number | undefined;
  p50: number;
  p99: number;
  meanBatch: number;
  inBatch: number;
  failures: number;
  confirmsPerSecond: number;
  statementsPerConfirm: number;
  nodeCpuMsPerConfirm: number;
  pgCpuMsPerConfirm: number | undefined;
  meanConfirmBatch: number;
}

async function run(kind: "pglite" | "postgres", batchMax: number): Promise<Row> {
  const shards = await createTestShardMap({ kind, physical: 1, prefix: "inv_batchbench" });
  await migrate({ map: shards.map, migrationsDir: MIGRATIONS_DIR, service: "inventory" });
  const router = createShardRouter({ map: shards.map, createClient: () => null, mapRefreshMs: 0, poolSize: 10 });
  const sql: ShardSql = {
    forKey: (key) => counting(router.sql.forKey(key)),
    forId: (id) => counting(router.sql.forId(id)),
    all: () => router.sql.all().map((s) => counting(s.sql)),
    logicalShardOf,
    logicalShardOfId: (id) => logicalShardOfId(id),
  };
  const deps: InventoryDeps = {
    shards: sql,
    ids: createIdGenerator({ nodeId: 28 }),
    now: () => new Date(),
    holdTtlSeconds: 600,
    counterSlots: 16,
    maxActiveHoldsPerBuyer: 4,
    holdBatchMax: batchMax,
    confirmBatchMax: batchMax,
    hashSecret: "bench",
    availability: { changed: () => {} },
    payments: { charge: () => Promise.reject(new Error("unused")), refund: () => Promise.reject(new Error("unused")), get: () => Promise.reject(new Error("unused")) },
  };
  const event = catalogueEvent([{ name: "Hall", rows: ROWS, seatsPerRow: SEATS_PER_ROW, priceCents: 5000 }]);
  await seatEvent(event, deps);
  const tag = `${kind}-${batchMax}-${Date.now()}`;
  // Warm up: every pooled connection open, so the backends measured are the ones that serve the run.
  await Promise.all(Array.from({ length: 20 }, (_, i) => placeHold({ buyerId: `${tag}-warm-${i}`, eventId: event.id, quantity: 1 }, deps)));
  let backends: number[] = [];
  if (kind === "postgres") {
    // Every backend of this database is one of the router's pooled connections (the shard is ours alone).
    backends = (await router.sql.all()[0].sql.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)).rows.map((r) => Number(r.pid));
  }
  const stats0 = { ...holdBatchStats };
  const statements0 = counts.statements;
  const pg0 = backends.reduce((sum, pid) => sum + cpuMsOf(pid), 0);
  const cpu0 = process.cpuUsage();
  const latencies: number[] = [];
  const held: Array<{ id: string; totalCents: number }> = [];
  let failures = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < HOLDS) {
        const i = next++;
        const t = performance.now();
        try {
          const hold = await placeHold({ buyerId: `${tag}-${i}`, eventId: event.id, quantity: 2 }, deps);
          latencies.push(performance.now() - t);
          held.push({ id: hold.id, totalCents: hold.totalCents });
        } catch {
          failures++;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const pgMs = backends.reduce((sum, pid) => sum + cpuMsOf(pid), 0) - pg0;
  const statementsAfterHolds = counts.statements;
  const heldCount = latencies.length;
  const batches = holdBatchStats.batches - stats0.batches;
  // Then every hold is confirmed (as the checkout does after the charge), CONCURRENCY at once.
  const eventSql = eventShard(deps, event.id);
  const confirm0 = { ...confirmBatchStats };
  const cstatements0 = counts.statements;
  const cpg0 = backends.reduce((sum, pid) => sum + cpuMsOf(pid), 0);
  const ccpu0 = process.cpuUsage();
  let nextConfirm = 0;
  let codes = 0;
  const cstarted = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (nextConfirm < held.length) {
        const h = held[nextConfirm++];
        const outcome = await confirmHoldGrouped(
          eventSql,
          {
            holdId: h.id,
            paymentId: `pay-${h.id}`,
            amountCents: h.totalCents,
            newOrderId: (id) => deps.ids.childOf(id),
            newTicketId: (id) => deps.ids.childOf(id),
            newTicketCode: () => `${tag}-${codes++}`,
          },
          deps,
        );
        if (outcome.kind !== "confirmed") throw new Error(`hold ${h.id}: ${outcome.kind}`);
      }
    }),
  );
  const cseconds = (performance.now() - cstarted) / 1000;
  const ccpu = process.cpuUsage(ccpu0);
  const cpgMs = backends.reduce((sum, pid) => sum + cpuMsOf(pid), 0) - cpg0;
  const cbatches = confirmBatchStats.batches - confirm0.batches;
  const row: Row = {
    kind,
    batchMax,
    holdsPerSecond: heldCount / seconds,
    statementsPerHold: (statementsAfterHolds - statements0) / heldCount,
    nodeCpuMsPerHold: (cpu.user + cpu.system) / 1000 / heldCount,
    pgCpuMsPerHold: kind === "postgres" ? pgMs / heldCount : undefined,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    meanBatch: batches === 0 ? 1 : (holdBatchStats.batchedRequests - stats0.batchedRequests) / batches,
    inBatch: (holdBatchStats.servedInBatch - stats0.servedInBatch) / heldCount,
    failures,
    confirmsPerSecond: held.length / cseconds,
    statementsPerConfirm: (counts.statements - cstatements0) / held.length,
    nodeCpuMsPerConfirm: (ccpu.user + ccpu.system) / 1000 / held.length,
    pgCpuMsPerConfirm: kind === "postgres" ? cpgMs / held.length : undefined,
    meanConfirmBatch: cbatches === 0 ? 1 : (confirmBatchStats.batchedRequests - confirm0.batchedRequests) / cbatches,
  };
  // Nothing sold twice, counters agree with seats.
  const check = await router.sql.forId(event.id).query<{ held: number; ids: number; counters: number; available: number }>(
    `SELECT (SELECT count(*) FROM inventory.seats WHERE event_id = $1 AND status = 'held')::int AS held,
            (SELECT count(DISTINCT s) FROM inventory.holds h, unnest(h.seat_ids) s WHERE h.event_id = $1 AND h.status = 'active')::int AS ids,
            (SELECT sum(available) FROM inventory.section_counters WHERE event_id = $1)::int AS counters,
            (SELECT count(*) FROM inventory.seats WHERE event_id = $1 AND status = 'available')::int AS available`,
    [event.id],
  );
  const c = check.rows[0];
  if (Number(c.held) !== Number(c.ids) || Number(c.counters) !== Number(c.available)) throw new Error(`inconsistent after the run: ${JSON.stringify(c)}`);
  await router.close();
  await shards.drop();
  return row;
}

const rows: Row[] = [];
const load0 = loadavg();
for (const kind of values.kinds.split(",") as Array<"pglite" | "postgres">) {
  for (const batchMax of values.batches.split(",").map(Number)) {
    const row = await run(kind, batchMax);
    rows.push(row);
    console.error(JSON.stringify(row));
  }
}
const load1 = loadavg();
const f = (x: number | undefined, d = 2) => (x === undefined ? "–" : x.toFixed(d));
console.log(
  [
    `| database | INVENTORY_HOLD_BATCH_MAX | holds/s | statements per hold | inventory CPU ms per hold | Postgres backends CPU ms per hold | mean batch | served in a batch | p50 / p99 ms | failed |`,
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${r.kind} | ${r.batchMax} | ${r.holdsPerSecond.toFixed(0)} | ${f(r.statementsPerHold)} | ${f(r.nodeCpuMsPerHold)} | ${f(r.pgCpuMsPerHold)} | ${f(r.meanBatch, 1)} | ${(100 * r.inBatch).toFixed(0)}% | ${r.p50.toFixed(0)} / ${r.p99.toFixed(0)} | ${r.failures} |`,
    ),
  ].join("\n"),
);
console.log(
  [
    "",
    `| database | INVENTORY_CONFIRM_BATCH_MAX | confirmations/s | statements per confirmation | inventory CPU ms per confirmation | Postgres backends CPU ms per confirmation | mean batch |`,
    "|---|---:|---:|---:|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${r.kind} | ${r.batchMax} | ${r.confirmsPerSecond.toFixed(0)} | ${f(r.statementsPerConfirm)} | ${f(r.nodeCpuMsPerConfirm)} | ${f(r.pgCpuMsPerConfirm)} | ${f(r.meanConfirmBatch, 1)} |`,
    ),
  ].join("\n"),
);
console.log(`\n${HOLDS} holds of 2 seats per row, ${CONCURRENCY} at once, one event of ${ROWS * SEATS_PER_ROW} seats (16 sub-counters). Load average (1, 5 min) at the start: ${load0.slice(0, 2).map((l) => l.toFixed(1)).join(", ")}; at the end: ${load1.slice(0, 2).map((l) => l.toFixed(1)).join(", ")}.`);
process.exit(0);
