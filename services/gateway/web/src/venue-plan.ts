// The venue plan: each section drawn as a block whose shape is its rows × seats per row, in the
// organiser's order from the stage outwards, coloured by price band and filled by how much is
// left. Sections are buttons (click, Enter or Space); the plan needs no seat data, so a stadium's
// plan costs the same bytes as a club's.
import { formatMoney, type Section } from "./api.ts";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 600;
const GAP = 14;
const STAGE_HEIGHT = 34;
const MIN_W = 96;
const MIN_H = 48;
/** Light fills with dark text on top, most expensive band first; more bands than colours share the last. */
export const PRICE_BAND_COLOURS = ["#f6c1c1", "#f8dca8", "#c9e8bf", "#c3dbf7", "#e0cdf3", "#d7dbe0"];

export interface PlacedSection { section: Section; x: number; y: number; w: number; h: number }

/** Where each section goes: one scale for all (area ∝ seats), packed in lines centred under the stage. */
export function layoutVenue(sections: Section[]): { placed: PlacedSection[]; height: number } {
  const shapeOf = (s: Section) => ({ rows: s.rows ?? Math.max(1, Math.round(Math.sqrt(s.capacity / 2))), perRow: s.seatsPerRow ?? Math.max(1, Math.round(Math.sqrt(s.capacity * 2))) });
  const totalSeats = sections.reduce((sum, s) => sum + shapeOf(s).rows * shapeOf(s).perRow, 0) || 1;
  // Aim for the blocks to cover about 70,000 square units of the 600-wide plan.
  const scale = Math.sqrt(70_000 / totalSeats);
  const sized = sections.map((section) => {
    const { rows, perRow } = shapeOf(section);
    let w = perRow * scale;
    let h = rows * scale;
    if (w > WIDTH) { h *= WIDTH / w; w = WIDTH; }
    return { section, w: Math.max(MIN_W, w), h: Math.max(MIN_H, h) };
  });
  const lines: Array<typeof sized> = [];
  let line: typeof sized = [];
  let lineWidth = 0;
  for (const item of sized) {
    if (line.length > 0 && lineWidth + GAP + item.w > WIDTH) {
      lines.push(line);
      line = [];
      lineWidth = 0;
    }
    lineWidth += (line.length ? GAP : 0) + item.w;
    line.push(item);
  }
  if (line.length) lines.push(line);
  const placed: PlacedSection[] = [];
  let y = STAGE_HEIGHT + GAP;
  for (const items of lines) {
    const width = items.reduce((sum, i) => sum + i.w, 0) + GAP * (items.length - 1);
    let x = (WIDTH - width) / 2;
    const height = Math.max(...items.map((i) => i.h));
    for (const item of items) {
      placed.push({ section: item.section, x, y: y + (height - item.h) / 2, w: item.w, h: item.h });
      x += item.w + GAP;
    }
    y += height + GAP;
  }
  return { placed, height: y };
}

/** Distinct prices, dearest first: a section's band is the index of its price here. */
export function priceBands(sections: Section[]): number[] {
  return [...new Set(sections.map((s) => s.priceCents))].sort((a, b) => b - a);
}

export function bandColour(bands: number[], priceCents: number): string {
  return PRICE_BAND_COLOURS[Math.min(bands.indexOf(priceCents), PRICE_BAND_COLOURS.length - 1)];
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number>, ...children: Array<Node | string>): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
}

export interface VenuePlan {
  readonly element: SVGSVGElement;
  /** Repaints counts and fills after availability changed (the shapes stay). */
  update(sections: Section[]): void;
  /** Marks the open section. */
  select(sectionId: string | null): void;
}

export function sectionLabel(section: Section): string {
  const left = section.available === 0 ? "sold out" : `${section.available.toLocaleString("en-US")} of ${section.capacity.toLocaleString("en-US")} seats left`;
  return `${section.name}, ${formatMoney(section.priceCents)}, ${left}`;
}

export function createVenuePlan(sections: Section[], onChoose: (sectionId: string) => void): VenuePlan {
  const { placed, height } = layoutVenue(sections);
  const bands = priceBands(sections);
  const element = svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, class: "venue-plan", role: "group", "aria-label": "Venue plan: choose a section" });
  element.append(
    svg("rect", { x: WIDTH / 2 - 150, y: 0, width: 300, height: STAGE_HEIGHT, rx: 6, class: "plan-stage" }),
    svg("text", { x: WIDTH / 2, y: STAGE_HEIGHT / 2 + 5, "text-anchor": "middle", class: "plan-stage-label", "aria-hidden": "true" }, "STAGE"),
  );
  const parts = new Map<string, { group: SVGGElement; fill: SVGRectElement; count: SVGTextElement; place: PlacedSection }>();
  for (const place of placed) {
    const { section, x, y, w, h } = place;
    const colour = bandColour(bands, section.priceCents);
    const group = svg("g", { class: "plan-section", role: "button", tabindex: 0, "data-section-id": section.id, "aria-pressed": "false" });
    const fill = svg("rect", { x, y, width: w, height: h, fill: colour, class: "plan-fill" });
    const count = svg("text", { x: x + w / 2, y: y + h / 2 + 16, "text-anchor": "middle", class: "plan-count" });
    group.append(
      svg("rect", { x, y, width: w, height: h, rx: 6, class: "plan-block" }),
      fill,
      svg("rect", { x, y, width: w, height: h, rx: 6, class: "plan-outline", stroke: "#3d4652" }),
    );
    // The words sit beside the button, not in it: its name is the fuller aria-label (clicks pass through them).
    const words = svg("g", { class: "plan-words", "aria-hidden": "true" },
      svg("text", { x: x + w / 2, y: y + h / 2 - 2, "text-anchor": "middle", class: "plan-name" }, `${section.name} · ${formatMoney(section.priceCents)}`),
      count,
    );
    group.addEventListener("click", () => onChoose(section.id));
    group.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" && event.key !== " ") return;
      event.preventDefault();
      onChoose(section.id);
    });
    element.append(group, words);
    parts.set(section.id, { group, fill, count, place });
  }
  const plan: VenuePlan = {
    element,
    update(next) {
      for (const section of next) {
        const part = parts.get(section.id);
        if (!part) continue;
        const { x, y, w, h } = part.place;
        // The coloured part shrinks from the top as seats go: what is left is what is coloured.
        const left = section.capacity === 0 ? 0 : section.available / section.capacity;
        const filled = h * left;
        part.fill.setAttribute("y", String(y + h - filled));
        part.fill.setAttribute("height", String(filled));
        part.fill.setAttribute("x", String(x));
        part.fill.setAttribute("width", String(w));
        part.count.textContent = section.available === 0 ? "sold out" : `${section.available.toLocaleString("en-US")} left`;
        part.group.setAttribute("aria-label", sectionLabel(section));
        part.group.dataset.available = String(section.available);
      }
    },
    select(sectionId) {
      for (const [id, part] of parts) part.group.setAttribute("aria-pressed", id === sectionId ? "true" : "false");
    },
  };
  plan.update(sections);
  return plan;
}
