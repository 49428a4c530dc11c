// One section's seats as a grid of buttons, a block of rows at a time for big sections (at most
// 1,000 buttons). One tab stop for the whole grid (roving tabindex): arrows move between seats and
// rows (and on to the next block), Home/End to a row's ends, Enter or Space picks. Taken seats
// stay focusable (aria-disabled) so a screen reader hears them too: each button says section,
// row, seat, price and status. Live changes patch only the seats whose status changed.
import { formatMoney, type Seat, type Section } from "./api.ts";
import { h } from "./dom.ts";

export interface SeatGrid {
  readonly element: HTMLElement;
  /** Applies a fresh list of the section's seats; returns how many buttons changed. */
  update(seats: Seat[]): number;
  /** Repaints the selection state (after the selection changed elsewhere). */
  paintSelection(): void;
}

export function seatLabel(section: Section, seat: Seat, selected: boolean): string {
  const status = seat.status === "available" ? (selected ? "selected" : "available") : seat.status === "held" ? "held by someone" : "sold";
  return `${section.name}, row ${seat.row}, seat ${seat.number}, ${formatMoney(section.priceCents)}, ${status}`;
}

/** At most this many seat buttons at once: a stadium section shows a block of rows at a time. */
const MAX_SEATS_SHOWN = 1000;

export function createSeatGrid(options: {
  section: Section;
  seats: Seat[];
  selected: Set<string>;
  /** Asked before a seat is added to the selection; false keeps it out. */
  canSelectMore: () => boolean;
  onChange: () => void;
}): SeatGrid {
  const { section, selected } = options;
  const seatById = new Map<string, Seat>();
  const shown = new Map<string, HTMLButtonElement>();
  const paint = (seat: Seat, button: HTMLButtonElement) => {
    const picked = selected.has(seat.id);
    const label = seatLabel(section, seat, picked);
    button.dataset.status = seat.status;
    button.setAttribute("aria-pressed", picked ? "true" : "false");
    button.setAttribute("aria-label", label);
    if (seat.status !== "available" && !picked) button.setAttribute("aria-disabled", "true");
    else button.removeAttribute("aria-disabled");
  };
  const byRow = new Map<number, Seat[]>();
  for (const seat of options.seats) {
    seatById.set(seat.id, seat);
    const row = byRow.get(seat.row);
    if (row) row.push(seat);
    else byRow.set(seat.row, [seat]);
  }
  const rows = [...byRow.entries()].sort((a, b) => a[0] - b[0]).map(([row, seats]) => ({ row, seats: seats.sort((a, b) => a.number - b.number) }));
  const widest = Math.max(1, ...rows.map((r) => r.seats.length));
  const rowsPerPage = Math.max(1, Math.floor(MAX_SEATS_SHOWN / widest));
  const pageCount = Math.ceil(rows.length / rowsPerPage);
  let page = 0;

  const grid = h("div", { class: "seat-grid", "data-grid": section.id, role: "group", "aria-label": `Seats of ${section.name}: arrow keys move, Enter picks` });
  const pager = h("select", { class: "row-pages", "aria-label": `Rows of ${section.name} shown` },
    ...Array.from({ length: pageCount }, (_, i) => {
      const from = rows[i * rowsPerPage].row;
      const to = rows[Math.min(rows.length, (i + 1) * rowsPerPage) - 1].row;
      return h("option", { value: i }, `Rows ${from}–${to}`);
    }),
  );
  const element = h("div", {}, pageCount > 1 ? h("label", { class: "row-pages-label" }, "Show rows ", pager) : null, grid);

  function showPage(next: number): void {
    page = next;
    pager.value = String(next);
    shown.clear();
    let first = true;
    grid.replaceChildren(...rows.slice(page * rowsPerPage, (page + 1) * rowsPerPage).map(({ row, seats }) =>
      h("div", { class: "seat-row", role: "group", "aria-label": `Row ${row}` },
        h("span", { class: "row-label", "aria-hidden": "true" }, `R${row}`),
        ...seats.map((seat) => {
          const button = h("button", { type: "button", class: "seat", "data-seat-id": seat.id, tabindex: first ? 0 : -1 }, String(seat.number));
          first = false;
          paint(seatById.get(seat.id) as Seat, button);
          shown.set(seat.id, button);
          return button;
        }),
      ),
    ));
    if (rows.length === 0) grid.append(h("p", { class: "meta" }, "This section has no seats."));
  }
  showPage(0);
  pager.addEventListener("change", () => showPage(Number(pager.value)));

  const focusSeat = (button: HTMLElement | null | undefined) => {
    if (!button) return;
    for (const current of grid.querySelectorAll<HTMLElement>('.seat[tabindex="0"]')) current.tabIndex = -1;
    button.tabIndex = 0;
    button.focus();
  };

  grid.addEventListener("click", (event) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>(".seat");
    const seat = button ? seatById.get(button.dataset.seatId as string) : undefined;
    if (!button || !seat) return;
    focusSeat(button);
    if (selected.has(seat.id)) selected.delete(seat.id);
    else if (seat.status !== "available") return;
    else if (!options.canSelectMore()) return;
    else selected.add(seat.id);
    paint(seat, button);
    options.onChange();
  });
  grid.addEventListener("keydown", (event) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>(".seat");
    if (!button || !["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"].includes(event.key)) return;
    event.preventDefault();
    const rowBox = button.parentElement as HTMLElement;
    const inRow = [...rowBox.querySelectorAll<HTMLElement>(".seat")];
    const index = inRow.indexOf(button);
    const seatIn = (box: Element | null | undefined) => {
      const seats = box ? [...box.querySelectorAll<HTMLElement>(".seat")] : [];
      return seats[Math.min(index, seats.length - 1)];
    };
    let target: HTMLElement | undefined;
    if (event.key === "ArrowLeft") target = inRow[index - 1];
    else if (event.key === "ArrowRight") target = inRow[index + 1];
    else if (event.key === "Home") target = inRow[0];
    else if (event.key === "End") target = inRow[inRow.length - 1];
    else {
      const down = event.key === "ArrowDown";
      target = seatIn(down ? rowBox.nextElementSibling : rowBox.previousElementSibling);
      // Past the rows shown: the next (or previous) block of rows comes in.
      if (!target && (down ? page + 1 < pageCount : page > 0)) {
        showPage(page + (down ? 1 : -1));
        const boxes = grid.querySelectorAll(".seat-row");
        target = seatIn(down ? boxes[0] : boxes[boxes.length - 1]);
      }
    }
    focusSeat(target);
  });

  return {
    element,
    update(seats) {
      let changed = 0;
      for (const seat of seats) {
        const known = seatById.get(seat.id);
        if (!known || known.status === seat.status) continue;
        seatById.set(seat.id, seat);
        if (seat.status !== "available" && selected.has(seat.id)) selected.delete(seat.id);
        const button = shown.get(seat.id);
        if (button) paint(seat, button);
        changed++;
      }
      if (changed) options.onChange();
      return changed;
    },
    paintSelection() {
      for (const [id, button] of shown) paint(seatById.get(id) as Seat, button);
    },
  };
}
