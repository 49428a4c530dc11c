// The event page: sections with live availability, best-available by quantity or seats picked on
// the map, then a hold. Live updates come over a WebSocket; focus and every action refresh too.
import { api, ApiError, describeError, formatDate, formatMoney, type Availability, type EventDetail, type Seat } from "../api.ts";
import { h, notify, render } from "../dom.ts";
import { watchAvailability } from "../live.ts";
import { navigate, recallAdmission, rememberHold, user } from "../state.ts";

const MAX_TICKETS = 8;
/** Above this many seats the map is not offered: the seat list is too big to send and to draw. */
const MAX_MAP_SEATS = 5000;

export async function eventPageView(eventId: string): Promise<() => void> {
  let event: EventDetail;
  try {
    event = await api.event(eventId);
  } catch (error) {
    render(h("h1", {}, "Event not available"), h("p", {}, describeError(error)), h("p", {}, h("a", { href: "#/" }, "Back to all events")));
    return () => {};
  }

  const selected = new Set<string>();
  let seats: Seat[] | null = null;
  let seatsLoading: Promise<void> | null = null;
  let lastSeatsFetch = 0;

  const liveState = h("p", { class: "live", "data-state": "connecting" }, "Connecting to live availability…");
  const totalLine = h("p", { class: "meta", id: "event-available" });
  const sectionsBox = h("div", { class: "sections" });
  const selectionLine = h("p", { "aria-live": "polite" });
  const holdSelectedButton = h("button", { type: "button", disabled: true }, "Hold selected seats");
  const quantity = h("select", { id: "quantity", name: "quantity" }, ...Array.from({ length: MAX_TICKETS }, (_, i) => h("option", { value: i + 1 }, String(i + 1))));
  const holdBestButton = h("button", { type: "submit" }, "Hold best available");

  function paintTotals(): void {
    const available = event.sections.reduce((sum, s) => sum + s.available, 0);
    totalLine.textContent = available === 0 ? "Sold out" : `${available.toLocaleString("en-US")} of ${event.sections.reduce((s, x) => s + x.capacity, 0).toLocaleString("en-US")} seats available`;
    for (const section of event.sections) {
      const label = sectionsBox.querySelector<HTMLElement>(`[data-section-count="${section.id}"]`);
      if (label) label.textContent = `${section.available.toLocaleString("en-US")} of ${section.capacity.toLocaleString("en-US")} available`;
    }
    holdBestButton.disabled = available === 0;
  }

  function paintSelection(): void {
    selectionLine.textContent = selected.size === 0 ? "No seats selected. Pick seats on the map, or hold the best available." : `${selected.size} seat${selected.size === 1 ? "" : "s"} selected.`;
    holdSelectedButton.disabled = selected.size === 0;
    holdSelectedButton.textContent = selected.size === 0 ? "Hold selected seats" : `Hold ${selected.size} selected seat${selected.size === 1 ? "" : "s"}`;
  }

  function seatButton(seat: Seat): HTMLButtonElement {
    const pressed = selected.has(seat.id);
    const label = `${seat.section}, row ${seat.row}, seat ${seat.number}, ${seat.status === "available" ? (pressed ? "selected" : "available") : seat.status}`;
    const button = h("button", {
      type: "button",
      class: "seat",
      "data-seat-id": seat.id,
      "data-status": seat.status,
      "aria-pressed": pressed ? "true" : "false",
      "aria-label": label,
      title: label,
      disabled: seat.status !== "available" && !pressed,
    }, String(seat.number));
    button.addEventListener("click", () => {
      if (selected.has(seat.id)) selected.delete(seat.id);
      else if (selected.size >= MAX_TICKETS) return notify(`You can pick at most ${MAX_TICKETS} seats.`, "warn");
      else selected.add(seat.id);
      button.replaceWith(seatButton(seat));
      paintSelection();
      (sectionsBox.querySelector(`[data-seat-id="${seat.id}"]`) as HTMLElement | null)?.focus();
    });
    return button;
  }

  function paintSeatGrid(sectionId: string): void {
    const grid = sectionsBox.querySelector<HTMLElement>(`[data-grid="${sectionId}"]`);
    if (!grid || !seats) return;
    const section = event.sections.find((s) => s.id === sectionId);
    const mine = seats.filter((s) => (s.sectionId ? s.sectionId === sectionId : s.section === section?.name));
    const rows = new Map<number, Seat[]>();
    for (const seat of mine) rows.set(seat.row, [...(rows.get(seat.row) ?? []), seat]);
    grid.replaceChildren(
      ...[...rows.entries()].sort((a, b) => a[0] - b[0]).map(([row, rowSeats]) =>
        h("div", { class: "seat-row", role: "group", "aria-label": `Row ${row}` },
          h("span", { class: "row-label", "aria-hidden": "true" }, `R${row}`),
          ...rowSeats.sort((a, b) => a.number - b.number).map(seatButton),
        ),
      ),
    );
    for (const id of [...selected]) {
      const seat = seats.find((s) => s.id === id);
      if (seat && seat.status !== "available") selected.delete(id);
    }
    paintSelection();
  }

  async function loadSeats(force = false): Promise<void> {
    if (seatsLoading) return seatsLoading;
    // Big events: never refetch the whole map more than once a second or so.
    if (!force && seats && Date.now() - lastSeatsFetch < 1500) return;
    seatsLoading = api.seats(eventId).then((next) => {
      seats = next;
      lastSeatsFetch = Date.now();
      for (const details of sectionsBox.querySelectorAll<HTMLDetailsElement>("details[open]")) paintSeatGrid(details.dataset.section as string);
    }).catch((error: unknown) => notify(describeError(error), "error")).finally(() => (seatsLoading = null));
    return seatsLoading;
  }

  function paintSections(): void {
    if (event.sections.reduce((sum, s) => sum + s.capacity, 0) > MAX_MAP_SEATS) {
      sectionsBox.replaceChildren(...event.sections.map((section) =>
        h("div", { class: "card" }, h("strong", {}, `${section.name} · ${formatMoney(section.priceCents)} · `), h("span", { "data-section-count": section.id })),
      ));
      paintTotals();
      return;
    }
    sectionsBox.replaceChildren(...event.sections.map((section) => {
      const details = h("details", { class: "section", "data-section": section.id },
        h("summary", {},
          `${section.name} · ${formatMoney(section.priceCents)} · `,
          h("span", { "data-section-count": section.id }),
        ),
        h("div", { class: "seat-grid", "data-grid": section.id }, h("p", { class: "meta" }, "Loading seats…")),
      );
      details.addEventListener("toggle", () => {
        if (!details.open) return;
        if (seats) paintSeatGrid(section.id);
        void loadSeats();
      });
      return details;
    }));
    paintTotals();
  }

  async function refresh(): Promise<void> {
    try {
      event = await api.event(eventId);
      paintTotals();
      if (sectionsBox.querySelector("details[open]")) await loadSeats();
    } catch {
      // A failed background refresh keeps the last known state; the next one may work.
    }
  }

  async function hold(body: { quantity: number } | { seatIds: string[] }, button: HTMLButtonElement): Promise<void> {
    if (!user()) {
      notify("Sign in to hold seats.", "warn");
      navigate(`/signin?next=${encodeURIComponent(`/events/${eventId}`)}`);
      return;
    }
    button.disabled = true;
    try {
      const held = await api.hold(eventId, body);
      rememberHold(held);
      notify(`Held ${held.seats.length} seat${held.seats.length === 1 ? "" : "s"}. Pay before the timer runs out.`, "ok");
      navigate(`/checkout/${held.id}`);
    } catch (error) {
      if (error instanceof ApiError && (error.code === "NOT_ADMITTED" || error.code === "SALES_NOT_STARTED")) {
        // Others are waiting (or the sale has not opened): take a place in the waiting room.
        notify(describeError(error), "warn");
        navigate(`/events/${eventId}/queue`);
        return;
      }
      const retryAfterSeconds = error instanceof ApiError ? error.retryAfterSeconds : undefined;
      notify(describeError(error), error instanceof ApiError && error.code === "BUSY" ? "warn" : "error", {
        retryAfterSeconds,
        onRetry: () => void hold(body, button),
      });
      if (error instanceof ApiError && error.code === "SEAT_UNAVAILABLE") selected.clear();
      await refresh();
      await loadSeats(true);
    } finally {
      button.disabled = false;
      paintSelection();
    }
  }

  const bestForm = h("form", { class: "row", "aria-label": "Best available" },
    h("label", { for: "quantity" }, "Number of tickets", quantity),
    holdBestButton,
  );
  bestForm.addEventListener("submit", (e) => {
    e.preventDefault();
    void hold({ quantity: Number(quantity.value) }, holdBestButton);
  });
  holdSelectedButton.addEventListener("click", () => void hold({ seatIds: [...selected] }, holdSelectedButton));

  const capacity = event.sections.reduce((sum, s) => sum + s.capacity, 0);
  const me = user();
  // Before the opening: a countdown and the way into the pre-queue. Once admitted: how long is left.
  const roomLine = h("p", { class: "notice warn", id: "room-line" });
  const paintRoom = () => {
    const opensAt = event.salesStartAt ? Date.parse(event.salesStartAt) : 0;
    const admittedUntil = recallAdmission(eventId);
    if (opensAt > Date.now()) {
      const left = Math.ceil((opensAt - Date.now()) / 1000);
      roomLine.className = "notice warn";
      roomLine.replaceChildren(`On sale from ${formatDate(event.salesStartAt as string)} (in ${Math.floor(left / 60)} min ${String(left % 60).padStart(2, "0")} s). `, h("a", { href: `#/events/${eventId}/queue` }, "Join the waiting room"));
      roomLine.hidden = false;
    } else if (admittedUntil) {
      const left = Math.ceil((admittedUntil - Date.now()) / 1000);
      roomLine.textContent = `It's your turn: hold and pay within ${Math.floor(left / 60)} min ${String(left % 60).padStart(2, "0")} s.`;
      roomLine.className = "notice ok";
      roomLine.hidden = false;
    } else {
      roomLine.hidden = true;
    }
  };
  paintRoom();
  const roomTimer = window.setInterval(paintRoom, 1000);
  const mapOffered = capacity <= MAX_MAP_SEATS;
  render(
    h("h1", {}, event.title),
    h("p", { class: "meta" }, `${event.venue} · ${formatDate(event.startsAt)}`),
    totalLine,
    roomLine,
    liveState,
    me?.role === "organizer" && me.id === event.organizerId ? h("p", {}, h("a", { href: `#/organiser/events/${event.id}` }, "Sales dashboard for this event")) : null,
    h("h2", {}, "Best available"),
    bestForm,
    mapOffered ? null : h("p", { class: "meta" }, `With ${capacity.toLocaleString("en-US")} seats this event sells by best available; per-section counts below update live.`),
    h("h2", {}, mapOffered ? "Pick your seats" : "Sections"),
    !mapOffered ? null : h("ul", { class: "legend", "aria-label": "Seat colours" },
      h("li", {}, h("span", { style: "background: var(--seat-available)" }), "available"),
      h("li", {}, h("span", { style: "background: var(--seat-selected)" }), "selected"),
      h("li", {}, h("span", { style: "background: var(--seat-held)" }), "held by someone"),
      h("li", {}, h("span", { style: "background: var(--seat-sold)" }), "sold"),
    ),
    sectionsBox,
    mapOffered ? selectionLine : null,
    mapOffered ? h("p", {}, holdSelectedButton) : null,
  );
  paintSections();
  paintSelection();
  // Small events open their first section at once; big ones let the buyer choose.
  const first = sectionsBox.querySelector<HTMLDetailsElement>("details");
  if (first && event.sections[0] && event.sections[0].capacity <= 600) first.open = true;

  const live = watchAvailability(
    eventId,
    (message: Availability) => {
      const bySection = new Map(message.sections.map((s) => [s.id, s.available]));
      event = { ...event, sections: event.sections.map((s) => ({ ...s, available: bySection.get(s.id) ?? s.available })) };
      paintTotals();
      if (sectionsBox.querySelector("details[open]")) void loadSeats();
    },
    (state) => {
      liveState.dataset.state = state;
      liveState.textContent = state === "live" ? "● Live: availability updates as people buy." : "Reconnecting to live updates… (the page still refreshes when you come back to it)";
    },
  );
  const onFocus = () => void refresh();
  const onVisible = () => document.visibilityState === "visible" && void refresh();
  window.addEventListener("focus", onFocus);
  document.addEventListener("visibilitychange", onVisible);
  return () => {
    live.close();
    window.clearInterval(roomTimer);
    window.removeEventListener("focus", onFocus);
    document.removeEventListener("visibilitychange", onVisible);
  };
}
