// The arithmetic of the checkout-cost bench (bench/checkout-cost.ts): CPU time per process read
// from /proc before and after a purchase spike, turned into milliseconds per confirmed order, and
// pg_stat_statements rows turned into calls and milliseconds per order. Kept apart from the bench
// so the table is unit-tested without running a spike.
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on every Linux we run on). */
export const CLOCK_TICKS_PER_SECOND = 100;

export interface ProcStat {
  pid: number;
  ppid: number;
  /** The executable's name as the kernel keeps it (at most 15 characters). */
  comm: string;
  /** utime + stime of the process itself, in clock ticks. */
  ownTicks: number;
  /** cutime + cstime: children it has waited for (a postmaster's exited backends land here). */
  reapedChildTicks: number;
}

/**
 * One /proc/<pid>/stat line. The name sits in parentheses and may hold spaces or ")", so fields are
 * counted from the last ")": state is field 3, ppid 4, utime 14, stime 15, cutime 16, cstime 17.
 */
export function parseProcStat(line: string): ProcStat {
  const open = line.indexOf("(");
  const close = line.lastIndexOf(")");
  if (open < 0 || close < open) throw new Error(`not a /proc/<pid>/stat line: ${line.slice(0, 80)}`);
  const rest = line.slice(close + 2).split(" ");
  const field = (n: number) => Number(rest[n - 3]);
  return {
    pid: Number(line.slice(0, open).trim()),
    ppid: field(4),
    comm: line.slice(open + 1, close),
    ownTicks: field(14) + field(15),
    reapedChildTicks: field(16) + field(17),
  };
}

/** Every process on the machine now (those that end while we read are skipped). */
export function readProcessTable(): Map<number, ProcStat> {
  const table = new Map<number, ProcStat>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      table.set(Number(entry), parseProcStat(readFileSync(`/proc/${entry}/stat`, "utf8")));
    } catch {
      // The process ended while we looked.
    }
  }
  return table;
}

/** The command line of a process, or "" when it is gone. */
export function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

/**
 * CPU milliseconds of a process and everything below it, including children it has already reaped
 * (a Postgres backend that exited during the spike is still counted, through the postmaster's cutime).
 */
export function treeCpuMs(table: Map<number, ProcStat>, rootPid: number): number {
  const children = new Map<number, number[]>();
  for (const stat of table.values()) {
    const list = children.get(stat.ppid);
    if (list) list.push(stat.pid);
    else children.set(stat.ppid, [stat.pid]);
  }
  let ticks = 0;
  const stack = [rootPid];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    const stat = table.get(pid);
    if (stat) ticks += stat.ownTicks + stat.reapedChildTicks;
    stack.push(...(children.get(pid) ?? []));
  }
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** A process's own CPU milliseconds (no children). */
export function ownCpuMs(table: Map<number, ProcStat>, pid: number): number {
  const stat = table.get(pid);
  return stat ? (stat.ownTicks * 1000) / CLOCK_TICKS_PER_SECOND : 0;
}

export interface CostRow {
  process: string;
  cpuMs: number;
  msPerOrder: number;
  /** Fraction of the total over every process. */
  share: number;
  /** CPU ms per second with nobody buying, measured right before the spike (NaN when not measured). */
  idleMsPerSecond: number;
}

export interface CostTable {
  orders: number;
  tickets: number;
  seconds: number;
  ordersPerSecond: number;
  ticketsPerSecond: number;
  rows: CostRow[];
  /** msPerOrder with what the processes burn idle (idle rate × spike length) taken out: the part the orders themselves cost. */
  total: { cpuMs: number; msPerOrder: number; idleMsPerSecond: number; netOfIdleMsPerOrder: number };
}

/**
 * CPU per confirmed order per process, from CPU milliseconds read before and after the spike.
 * A process missing from `before` (started during the spike) counts from zero; rows come busiest
 * first; with no confirmed order the per-order figures are NaN rather than a division by zero.
 */
export function costTable(input: {
  before: Record<string, number>;
  after: Record<string, number>;
  orders: number;
  tickets: number;
  seconds: number;
  idlePerSecond?: Record<string, number>;
}): CostTable {
  const idle = (process: string) => input.idlePerSecond?.[process] ?? Number.NaN;
  const idleTotal = input.idlePerSecond ? Object.keys(input.after).reduce((sum, process) => sum + idle(process), 0) : Number.NaN;
  const used = Object.entries(input.after).map(([process, after]) => ({ process, cpuMs: Math.max(0, after - (input.before[process] ?? 0)) }));
  const totalMs = used.reduce((sum, row) => sum + row.cpuMs, 0);
  const perOrder = (ms: number) => (input.orders > 0 ? ms / input.orders : Number.NaN);
  return {
    orders: input.orders,
    tickets: input.tickets,
    seconds: input.seconds,
    ordersPerSecond: input.seconds > 0 ? input.orders / input.seconds : Number.NaN,
    ticketsPerSecond: input.seconds > 0 ? input.tickets / input.seconds : Number.NaN,
    rows: used
      .map((row) => ({ ...row, msPerOrder: perOrder(row.cpuMs), share: totalMs > 0 ? row.cpuMs / totalMs : 0, idleMsPerSecond: idle(row.process) }))
      .sort((a, b) => b.cpuMs - a.cpuMs),
    total: { cpuMs: totalMs, msPerOrder: perOrder(totalMs), idleMsPerSecond: idleTotal, netOfIdleMsPerOrder: perOrder(totalMs - idleTotal * input.seconds) },
  };
}

/** A row of pg_stat_statements (calls and time since the reset at the start of the spike). */
export interface StatementStat {
  database: string;
  query: string;
  calls: number;
  totalMs: number;
  rows: number;
}

export interface StatementRow extends StatementStat {
  callsPerOrder: number;
  msPerOrder: number;
  meanMs: number;
}

/** The top `limit` statements by total time, with calls and milliseconds per confirmed order; and the totals over all. */
export function statementsPerOrder(stats: StatementStat[], orders: number, limit = 12): { top: StatementRow[]; callsPerOrder: number; msPerOrder: number } {
  const per = (n: number) => (orders > 0 ? n / orders : Number.NaN);
  const rows = stats
    .map((s) => ({ ...s, callsPerOrder: per(s.calls), msPerOrder: per(s.totalMs), meanMs: s.calls > 0 ? s.totalMs / s.calls : 0 }))
    .sort((a, b) => b.totalMs - a.totalMs);
  return {
    top: rows.slice(0, limit),
    callsPerOrder: per(stats.reduce((sum, s) => sum + s.calls, 0)),
    msPerOrder: per(stats.reduce((sum, s) => sum + s.totalMs, 0)),
  };
}

const fixed = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : "–");

/** One statement on one line for a table cell: whitespace squeezed, pipes escaped, cut at `max`. */
export function statementCell(query: string, max = 110): string {
  const flat = query.replace(/\s+/g, " ").trim().replaceAll("|", "\\|");
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** The cost table as markdown: throughput first, then one row per process, then the total. */
export function costTableMarkdown(table: CostTable): string {
  return [
    `| confirmed orders | tickets | spike | orders/s | tickets/s |`,
    `|---:|---:|---:|---:|---:|`,
    `| ${table.orders} | ${table.tickets} | ${fixed(table.seconds, 1)} s | ${fixed(table.ordersPerSecond, 1)} | ${fixed(table.ticketsPerSecond, 1)} |`,
    "",
    `| process | CPU ms during the spike | CPU ms per confirmed order | share | idle CPU ms/s before the spike |`,
    `|---|---:|---:|---:|---:|`,
    ...table.rows.map((row) => `| ${row.process} | ${Math.round(row.cpuMs)} | ${fixed(row.msPerOrder, 2)} | ${fixed(row.share * 100, 0)}% | ${fixed(row.idleMsPerSecond, 1)} |`),
    `| **all processes** | **${Math.round(table.total.cpuMs)}** | **${fixed(table.total.msPerOrder, 2)}** | 100% | ${fixed(table.total.idleMsPerSecond, 1)} |`,
    "",
    `Net of idle (the idle rate × ${fixed(table.seconds, 1)} s taken out): **${fixed(table.total.netOfIdleMsPerOrder, 2)} ms** per confirmed order.`,
  ].join("\n");
}

export function statementsMarkdown(result: ReturnType<typeof statementsPerOrder>): string {
  return [
    `All statements: ${fixed(result.callsPerOrder, 1)} calls and ${fixed(result.msPerOrder, 2)} ms of execution per confirmed order.`,
    "",
    `| database | statement | calls/order | ms/order | mean ms | calls |`,
    `|---|---|---:|---:|---:|---:|`,
    ...result.top.map((s) => `| ${s.database} | \`${statementCell(s.query)}\` | ${fixed(s.callsPerOrder, 2)} | ${fixed(s.msPerOrder, 3)} | ${fixed(s.meanMs, 3)} | ${s.calls} |`),
  ].join("\n");
}
