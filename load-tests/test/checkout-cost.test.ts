import { describe, expect, it } from "vitest";
import { costTable, costTableMarkdown, parseProcStat, statementCell, statementsPerOrder, treeCpuMs, type ProcStat } from "../src/index.ts";

// The checkout-cost bench's arithmetic, without a spike: /proc lines to CPU time, CPU time to
// milliseconds per confirmed order, pg_stat_statements rows to calls per order.
describe("checkout cost table", () => {
  it("when a /proc stat line has spaces and parentheses in its name, utime+stime and the reaped children's times are read after the last parenthesis", () => {
    const line = "4242 (postgres: a (b) c) S 17 4242 4242 0 -1 4194560 900 0 0 0 150 50 30 20 20 0 1 0 100 0 0";
    expect(parseProcStat(line)).toEqual({ pid: 4242, ppid: 17, comm: "postgres: a (b) c", ownTicks: 200, reapedChildTicks: 50 });
  });

  it("when a postmaster has live and exited backends, its tree's CPU counts both, and nothing outside the tree", () => {
    const stat = (pid: number, ppid: number, own: number, reaped = 0): ProcStat => ({ pid, ppid, comm: "x", ownTicks: own, reapedChildTicks: reaped });
    const table = new Map([stat(10, 1, 5, 40), stat(11, 10, 20), stat(12, 10, 30), stat(13, 12, 1), stat(20, 1, 999)].map((s) => [s.pid, s]));
    // 5 + 40 (exited backends) + 20 + 30 + 1 ticks at 100 per second.
    expect(treeCpuMs(table, 10)).toBe(960);
  });

  it("when 200 orders confirm in 4 s, each process's CPU is divided by the orders, busiest first, and the total is the sum", () => {
    const table = costTable({
      before: { gateway: 1000, inventory: 500, postgres: 0 },
      after: { gateway: 1600, inventory: 1300, postgres: 1000, redis: 200 },
      orders: 200,
      tickets: 300,
      seconds: 4,
      idlePerSecond: { gateway: 2, inventory: 3, postgres: 4, redis: 1 },
    });
    expect(table.ordersPerSecond).toBe(50);
    expect(table.ticketsPerSecond).toBe(75);
    expect(table.rows.map((r) => [r.process, r.cpuMs, r.msPerOrder])).toEqual([
      ["postgres", 1000, 5],
      ["inventory", 800, 4],
      ["gateway", 600, 3],
      ["redis", 200, 1],
    ]);
    // 10 ms/s idle for 4 s is 40 ms of the 2600 that the orders did not cause.
    expect(table.total).toEqual({ cpuMs: 2600, msPerOrder: 13, idleMsPerSecond: 10, netOfIdleMsPerOrder: 12.8 });
    expect(table.rows.reduce((sum, r) => sum + r.share, 0)).toBeCloseTo(1, 10);
    expect(costTableMarkdown(table)).toContain("| **all processes** | **2600** | **13.00** | 100% | 10.0 |");
  });

  it("when nothing was confirmed, per-order figures show as a dash instead of infinity", () => {
    const table = costTable({ before: { a: 0 }, after: { a: 10 }, orders: 0, tickets: 0, seconds: 1 });
    expect(table.total.msPerOrder).toBeNaN();
    expect(costTableMarkdown(table)).toContain("| a | 10 | – | 100% | – |");
  });

  it("when statements are ranked, the top ones by total time come with calls and ms per order, and the totals cover every statement", () => {
    const result = statementsPerOrder(
      [
        { database: "inventory", query: "select 1", calls: 100, totalMs: 10, rows: 100 },
        { database: "inventory", query: "update seats\n  set x = 1 | 2", calls: 50, totalMs: 40, rows: 50 },
        { database: "payments", query: "commit", calls: 150, totalMs: 5, rows: 0 },
      ],
      50,
      2,
    );
    expect(result.top.map((s) => [s.query, s.callsPerOrder, s.msPerOrder, s.meanMs])).toEqual([
      ["update seats\n  set x = 1 | 2", 1, 0.8, 0.8],
      ["select 1", 2, 0.2, 0.1],
    ]);
    expect(result.callsPerOrder).toBe(6);
    expect(result.msPerOrder).toBeCloseTo(1.1, 10);
    expect(statementCell("update seats\n  set x = 1 | 2")).toBe("update seats set x = 1 \\| 2");
  });
});
