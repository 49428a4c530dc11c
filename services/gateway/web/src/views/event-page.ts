// The event page: the venue plan (sections with live availability), best-available by quantity or
// seats picked in one section's grid (only that section's seats are fetched), then a hold. Live
// updates come over a WebSocket; focus and every action refresh too.
import { api, ApiError, describeError, formatDate, formatMoney, type Availability, type EventDetail, type SaleMessage } from "../api.ts";
import { h, notify, render } from "../dom.ts";
import { watchAvailability } from "../live.ts";
import { createSeatGrid, type SeatGrid } from "../seat-grid.ts";
import { bandColour, createVenuePlan, priceBands } from "../venue-plan.ts";
import { navigate, recallAdmission, rememberHold, user } from "../state.ts";

const MAX_TICKETS = 8;
/** Small events open their first section at once; bigger ones wait for the buyer to choose. */
const OPEN_FIRST_SECTION_UP_TO = 600;
/** The open section is fetched again at most this often while live changes come in. */
const SECTION_REFETCH_MS = 1000;

export async function eventPageView(eventId: string): Promise<() => void> {
  let event: EventDetail;
  try {
    event = await api.event(eventId);
  } catch (error) {
    render(h("h1", {}, "Event not available"), h("p", {}, describeError(error)), h("p", {}, h("a", { href: "#/" }, "Back to all events")));
    return () => {};
  }

  const selected = new Set<string>();
  let openSectionId: string | null = null;
  let grid: SeatGrid | null = null;
  let sectionLoad: Promise<void> | null = null;
  let lastSectionFetch = 0;
  let refetchTimer: number | undefined;
  let stopped = false;

  const liveState = h("p", { class: "live", "data-state": "connecting" }, "Connecting to live availability…");
  const totalLine = h("p", { class: "meta", id: "event-available" });
  const selectionLine = h("p", { "aria-live": "polite", id: "selection" });
  const holdSelectedButton = h("button", { type: "button", disabled: true }, "Hold selected seats");
  const quantity = h("select", { id: "quantity", name: "quantity" }, ...Array.from({ length: MAX_TICKETS }, (_, i) => h("option", { value: i + 1 }, String(i + 1))));
  const holdBestButton = h("button", { type: "submit" }, "Hold best available");
  const sectionHeading = h("h3", { id: "section-heading", tabindex: -1 }, "Choose a section on the plan");
  const sectionCount = h("p", { class: "meta", id: "section-available" });
  const gridBox = h("div", { class: "seat-grid-box" });
  const sectionPanel = h("section", { class: "card section-panel", "aria-labelledby": "section-heading" }, sectionHeading, sectionCount, gridBox);

  const plan = createVenuePlan(event.sections, (id) => void openSection(id, true));
  const bands = priceBands(event.sections);

  function paintTotals(): void {
    const available = event.sections.reduce((sum, s) => sum + s.available, 0);
    totalLine.textContent = available === 0 ? "Sold out" : `${available.toLocaleString("en-US")} of ${event.sections.reduce((s, x) => s + x.capacity, 0).toLocaleString("en-US")} seats available`;
    plan.update(event.sections);
    const open = event.sections.find((s) => s.id === openSectionId);
    sectionCount.textContent = open ? `${open.available.toLocaleString("en-US")} of ${open.capacity.toLocaleString("en-US")} seats left in ${open.name}` : "";
    holdBestButton.disabled = available === 0;
  }

  function paintSelection(): void {
    selectionLine.textContent = selected.size === 0 ? "No seats selected. Pick seats in a section, or hold the best available." : `${selected.size} seat${selected.size === 1 ? "" : "s"} selected.`;
    holdSelectedButton.disabled = selected.size === 0;
    holdSelectedButton.textContent = selected.size === 0 ? "Hold selected seats" : `Hold ${selected.size} selected seat${selected.size === 1 ? "" : "s"}`;
  }

  /** Fetches the open section's seats (only that section) and draws or patches its grid. */
  async function loadSection(): Promise<void> {
    if (sectionLoad) return sectionLoad;
    const sectionId = openSectionId;
    const section = event.sections.find((s) => s.id === sectionId);
    if (!sectionId || !section) return;
    lastSectionFetch = Date.now();
    sectionLoad = api.sectionSeats(eventId, sectionId).then((seats) => {
      if (stopped || openSectionId !== sectionId) return;
      if (grid && gridBox.dataset.section === sectionId) {
        grid.update(seats);
        return;
      }
      grid = createSeatGrid({
        section,
        seats,
        selected,
        canSelectMore: () => {
          if (selected.size < MAX_TICKETS) return true;
          notify(`You can pick at most ${MAX_TICKETS} seats.`, "warn");
          return false;
        },
        onChange: paintSelection,
      });
      gridBox.dataset.section = sectionId;
      gridBox.replaceChildren(grid.element);
    }).catch((error: unknown) => notify(describeError(error), "error")).finally(() => (sectionLoad = null));
    return sectionLoad;
  }

  async function openSection(sectionId: string, focus: boolean): Promise<void> {
    const section = event.sections.find((s) => s.id === sectionId);
    if (!section) return;
    if (openSectionId !== sectionId) {
      // Seats picked in another section stay picked: a hold may span sections.
      openSectionId = sectionId;
      grid = null;
      gridBox.dataset.section = "";
      gridBox.replaceChildren(h("p", { class: "meta" }, `Loading the seats of ${section.name}…`));
    }
    plan.select(sectionId);
    sectionHeading.textContent = `${section.name} · ${formatMoney(section.priceCents)}`;
    paintTotals();
    if (focus) sectionHeading.focus();
    await loadSection();
  }

  /** A live change touched the open section: fetch it again, at most once a second (a hidden page waits for focus). */
  function sectionChanged(): void {
    if (!openSectionId || refetchTimer !== undefined || document.hidden) return;
    const wait = Math.max(0, lastSectionFetch + SECTION_REFETCH_MS - Date.now());
    refetchTimer = window.setTimeout(() => {
      refetchTimer = undefined;
      void loadSection();
    }, wait);
  }

  async function refresh(): Promise<void> {
    try {
      event = await api.event(eventId);
      paintTotals();
      await loadSection();
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
  render(
    h("h1", {}, event.title),
    h("p", { class: "meta" }, `${event.venue} · ${formatDate(event.startsAt)}`),
    totalLine,
    roomLine,
    liveState,
    me?.role === "organizer" && me.id === event.organizerId ? h("p", {}, h("a", { href: `#/organiser/events/${event.id}` }, "Sales dashboard for this event")) : null,
    h("h2", {}, "Best available"),
    bestForm,
    h("h2", {}, "Pick your seats"),
    h("p", { class: "meta" }, `Choose a section on the plan (${capacity.toLocaleString("en-US")} seats in ${event.sections.length} section${event.sections.length === 1 ? "" : "s"}), then your seats in it.`),
    h("ul", { class: "legend", "aria-label": "Price bands" },
      ...bands.map((price) => h("li", {}, h("span", { style: `background: ${bandColour(bands, price)}` }), formatMoney(price))),
      h("li", {}, "colour fills as much of a section as is left"),
    ),
    h("div", { class: "plan-box" }, plan.element),
    sectionPanel,
    h("ul", { class: "legend", "aria-label": "Seat colours" },
      h("li", {}, h("span", { style: "background: var(--seat-available)" }), "available"),
      h("li", {}, h("span", { style: "background: var(--seat-selected)" }), "selected"),
      h("li", {}, h("span", { style: "background: var(--seat-held)" }), "held by someone"),
      h("li", {}, h("span", { style: "background: var(--seat-sold)" }), "sold"),
    ),
    selectionLine,
    h("p", {}, holdSelectedButton),
  );
  paintTotals();
  paintSelection();
  // The plan is drawn and takes clicks: what the browser test's time-to-interactive budget reads.
  performance.mark("event-page-interactive");
  const first = event.sections[0];
  if (first && first.capacity <= OPEN_FIRST_SECTION_UP_TO) void openSection(first.id, false);

  const live = watchAvailability(
    eventId,
    (message: Availability | SaleMessage) => {
      if (message.type !== "availability") return;
      const bySection = new Map(message.sections.map((s) => [s.id, s.available]));
      const before = event.sections.find((s) => s.id === openSectionId)?.available;
      event = { ...event, sections: event.sections.map((s) => ({ ...s, available: bySection.get(s.id) ?? s.available })) };
      paintTotals();
      if (openSectionId && bySection.has(openSectionId) && bySection.get(openSectionId) !== before) sectionChanged();
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
    stopped = true;
    window.clearTimeout(refetchTimer);
    live.close();
    window.clearInterval(roomTimer);
    window.removeEventListener("focus", onFocus);
    document.removeEventListener("visibilitychange", onVisible);
  };
}
