// Tickets sold and revenue over time, drawn as SVG by hand: two step lines over one time axis
// (tickets on the left scale, revenue on the right). About 3 KB of code against ~50 KB minified
// for a charting library, and the page needs exactly this one chart (BENCHMARKS.md, "web UI").
import { formatMoney } from "./api.ts";

const SVG = "http://www.w3.org/2000/svg";
const W = 600;
const H = 220;
const PAD = { left: 52, right: 70, top: 14, bottom: 28 };
/** Points kept: a long on-sale keeps its last few thousand changes. */
const MAX_POINTS = 5000;

export interface SalesPoint { at: number; tickets: number; revenueCents: number }

export interface SalesChart {
  readonly element: SVGSVGElement;
  add(point: SalesPoint): void;
  /** Redraws with the time axis ending now (call now and then so the lines reach the present). */
  paint(now?: number): void;
}

function node<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/** A "nice" top for an axis: 1, 2 or 5 times a power of ten, at least `value`. */
export function niceCeiling(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return ([1, 2, 5, 10].find((m) => m * power >= value) as number) * power;
}

export function createSalesChart(first: SalesPoint): SalesChart {
  const points: SalesPoint[] = [first];
  const element = node("svg", { viewBox: `0 0 ${W} ${H}`, class: "sales-chart", role: "img" });
  const title = node("title", {});
  const axes = node("g", { class: "chart-axes" });
  const ticketsLine = node("path", { class: "chart-tickets", fill: "none" });
  const revenueLine = node("path", { class: "chart-revenue", fill: "none" });
  element.append(title, axes, revenueLine, ticketsLine);
  const time = (ms: number) => new Date(ms).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" });

  const chart: SalesChart = {
    element,
    add(point) {
      points.push(point);
      if (points.length > MAX_POINTS) points.splice(0, points.length - MAX_POINTS);
      chart.paint(point.at);
    },
    paint(now = Date.now()) {
      const start = points[0].at;
      const end = Math.max(now, start + 60_000);
      const last = points[points.length - 1];
      // Scales start at 10 tickets and $100, so the first sales do not fill the chart.
      const maxTickets = niceCeiling(Math.max(10, ...points.map((p) => p.tickets)));
      const maxRevenue = niceCeiling(Math.max(10_000, ...points.map((p) => p.revenueCents)));
      const x = (at: number) => PAD.left + ((at - start) / (end - start)) * (W - PAD.left - PAD.right);
      const y = (value: number, max: number) => H - PAD.bottom - (value / max) * (H - PAD.top - PAD.bottom);
      // A step line: a value holds until the next change, then jumps.
      const step = (value: (p: SalesPoint) => number, max: number) =>
        points.map((p, i) => (i === 0 ? `M${x(p.at).toFixed(1)} ` : `H${x(p.at).toFixed(1)} V`) + y(value(p), max).toFixed(1)).join(" ") + ` H${x(end).toFixed(1)}`;
      ticketsLine.setAttribute("d", step((p) => p.tickets, maxTickets));
      revenueLine.setAttribute("d", step((p) => p.revenueCents, maxRevenue));
      const bottom = H - PAD.bottom;
      axes.replaceChildren(
        node("line", { x1: PAD.left, y1: bottom, x2: W - PAD.right, y2: bottom, class: "chart-grid" }),
        node("line", { x1: PAD.left, y1: PAD.top, x2: W - PAD.right, y2: PAD.top, class: "chart-grid" }),
        node("text", { x: PAD.left - 6, y: bottom + 4, "text-anchor": "end" }, "0"),
        node("text", { x: PAD.left - 6, y: PAD.top + 4, "text-anchor": "end", class: "chart-tickets-label" }, `${maxTickets.toLocaleString("en-US")}`),
        node("text", { x: W - PAD.right + 6, y: bottom + 4 }, "$0"),
        node("text", { x: W - PAD.right + 6, y: PAD.top + 4, class: "chart-revenue-label" }, formatMoney(maxRevenue).replace(/\.00$/, "")),
        node("text", { x: PAD.left, y: H - 8 }, time(start)),
        node("text", { x: W - PAD.right, y: H - 8, "text-anchor": "end" }, time(end)),
      );
      const summary = `Tickets sold and revenue since ${time(start)}: ${last.tickets.toLocaleString("en-US")} tickets, ${formatMoney(last.revenueCents)}`;
      title.textContent = summary;
      element.setAttribute("aria-label", summary);
      element.dataset.tickets = String(last.tickets);
      element.dataset.points = String(points.length);
    },
  };
  chart.paint(first.at);
  return chart;
}
