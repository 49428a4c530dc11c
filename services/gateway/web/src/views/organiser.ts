// Organisers: create an event with sections and prices (on sale at once), and the live view of its
// sale: tickets and revenue over time, sell-through per section, holds in flight, the waiting
// room (with pause and cap) and the last orders.
import { api, describeError, formatDate, formatMoney, type EventDetail, type QueueStats, type SaleMessage } from "../api.ts";
import { h, notify, render } from "../dom.ts";
import { watchAvailability } from "../live.ts";
import { createSalesChart, type SalesChart } from "../sales-chart.ts";
import { navigate, user } from "../state.ts";

interface SectionInputs { name: HTMLInputElement; rows: HTMLInputElement; seatsPerRow: HTMLInputElement; price: HTMLInputElement }

export function organiserView(): void {
  if (user()?.role !== "organizer") {
    render(h("h1", {}, "Organisers"), h("p", {}, "Sign in with an organiser account to create events. "), h("p", {}, h("a", { href: "#/signin?next=%2Forganiser" }, "Sign in")));
    return;
  }
  const title = h("input", { name: "title", required: true });
  const venue = h("input", { name: "venue", required: true });
  const startsAt = h("input", { type: "datetime-local", name: "startsAt", required: true });
  startsAt.value = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 16);
  // Empty: on sale at once. A later time opens a waiting room's pre-queue until then.
  const salesStartAt = h("input", { type: "datetime-local", name: "salesStartAt" });
  const sectionsBox = h("div", { class: "sections" });
  const sections: SectionInputs[] = [];

  const addSection = (name = "", rows = 5, seatsPerRow = 10, price = 50) => {
    const inputs: SectionInputs = {
      name: h("input", { name: "sectionName", required: true, value: name }),
      rows: h("input", { type: "number", name: "rows", min: 1, max: 1000, required: true, value: rows }),
      seatsPerRow: h("input", { type: "number", name: "seatsPerRow", min: 1, max: 1000, required: true, value: seatsPerRow }),
      price: h("input", { type: "number", name: "price", min: 0, step: "0.01", required: true, value: price }),
    };
    sections.push(inputs);
    const index = sections.length;
    sectionsBox.append(h("fieldset", { class: "card" },
      h("legend", {}, `Section ${index}`),
      h("div", { class: "row" },
        h("label", {}, "Name", inputs.name),
        h("label", {}, "Rows", inputs.rows),
        h("label", {}, "Seats per row", inputs.seatsPerRow),
        h("label", {}, "Price (USD)", inputs.price),
      ),
    ));
  };
  addSection("Stalls", 10, 20, 65);
  addSection("Balcony", 5, 16, 40);

  const submit = h("button", { type: "submit" }, "Create event and put it on sale");
  const form = h("form", { "aria-label": "Create an event" },
    h("label", {}, "Title", title),
    h("label", {}, "Venue", venue),
    h("label", {}, "Starts at", startsAt),
    h("label", {}, "On sale from (empty: now)", salesStartAt),
    sectionsBox,
    h("p", {}, h("button", { type: "button", class: "secondary", onclick: () => addSection() }, "Add a section")),
    submit,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    submit.disabled = true;
    try {
      const event = await api.createEvent({
        title: title.value,
        venue: venue.value,
        startsAt: new Date(startsAt.value).toISOString(),
        salesStartAt: salesStartAt.value ? new Date(salesStartAt.value).toISOString() : undefined,
        sections: sections.map((s) => ({ name: s.name.value, rows: Number(s.rows.value), seatsPerRow: Number(s.seatsPerRow.value), priceCents: Math.round(Number(s.price.value) * 100) })),
      });
      notify(`“${event.title}” is on sale.`, "ok");
      navigate(`/organiser/events/${event.id}`);
    } catch (error) {
      notify(describeError(error), "error");
    } finally {
      submit.disabled = false;
    }
  });
  const existing = h("ul", { class: "cards", "aria-label": "Your events" });
  render(h("h1", {}, "Create an event"), form, h("h2", {}, "Sales dashboards"), existing);
  void loadOwnEvents(existing);
}

/** Events on sale, each linking to its sales dashboard (the catalogue has no "mine" filter, so check each). */
async function loadOwnEvents(list: HTMLUListElement): Promise<void> {
  try {
    const me = user();
    const { events } = await api.events();
    const details = await Promise.all(events.map((e) => api.event(e.id).catch(() => null)));
    const mine = details.filter((e): e is EventDetail => e !== null && e.organizerId === me?.id);
    list.replaceChildren(...mine.map((e) => h("li", { class: "card" }, h("a", { href: `#/organiser/events/${e.id}` }, e.title), h("p", { class: "meta" }, formatDate(e.startsAt)))));
    if (mine.length === 0) list.append(h("li", {}, "No events yet."));
  } catch (error) {
    list.replaceChildren(h("li", {}, describeError(error)));
  }
}

export async function salesView(eventId: string): Promise<() => void> {
  let event: EventDetail;
  try {
    event = await api.event(eventId);
  } catch (error) {
    render(h("h1", {}, "Sales"), h("p", {}, describeError(error)));
    return () => {};
  }
  // Sold and held per section: counted once from each section's seats, then kept by the socket
  // (sales add to sold; availability says how many are taken, sold or held).
  const sold = new Map<string, number>();
  const taken = new Map(event.sections.map((s) => [s.id, s.capacity - s.available]));
  const seen = new Set<string>();
  let counted = false;
  const liveState = h("p", { class: "live" }, "Connecting to live sales…");
  const tiles = h("dl", { class: "sales-tiles", id: "sales-tiles" });
  const bars = h("ul", { class: "sell-through", "aria-label": "Sell-through per section" });
  const orders = h("ol", { class: "last-orders", id: "last-orders" }, h("li", { class: "meta" }, "No orders since this page opened."));
  // Drawn once the counts are in, so its first point is the sale so far (not a jump from zero).
  let chart: SalesChart | null = null;
  const chartBox = h("div", { class: "card chart-box" }, h("p", { class: "meta" }, "Counting sold and held seats…"));
  const totals = () => {
    const tickets = [...sold.values()].reduce((a, b) => a + b, 0);
    const revenueCents = event.sections.reduce((sum, s) => sum + (sold.get(s.id) ?? 0) * s.priceCents, 0);
    const held = event.sections.reduce((sum, s) => sum + Math.max(0, (taken.get(s.id) ?? 0) - (sold.get(s.id) ?? 0)), 0);
    const capacity = event.sections.reduce((sum, s) => sum + s.capacity, 0);
    return { tickets, revenueCents, held, capacity };
  };
  const paint = () => {
    const { tickets, revenueCents, held, capacity } = totals();
    const tile = (label: string, value: string, id: string) => h("div", { class: "tile" }, h("dt", {}, label), h("dd", { "data-stat": id }, value));
    tiles.replaceChildren(
      tile("Tickets sold", counted ? tickets.toLocaleString("en-US") : "…", "sold"),
      tile("Revenue", counted ? formatMoney(revenueCents) : "…", "revenue"),
      tile("Holds in flight (seats)", counted ? held.toLocaleString("en-US") : "…", "held"),
      tile("Sell-through", counted ? `${((tickets / Math.max(1, capacity)) * 100).toFixed(1)}%` : "…", "sell-through"),
    );
    bars.replaceChildren(...event.sections.map((s) => {
      const soldHere = sold.get(s.id) ?? 0;
      const heldHere = Math.max(0, (taken.get(s.id) ?? 0) - soldHere);
      const pct = (n: number) => `${((n / Math.max(1, s.capacity)) * 100).toFixed(2)}%`;
      return h("li", { "data-section": s.id },
        h("span", { class: "bar-label" }, `${s.name} · ${formatMoney(s.priceCents)}: ${soldHere.toLocaleString("en-US")} sold, ${heldHere.toLocaleString("en-US")} held of ${s.capacity.toLocaleString("en-US")} (${pct(soldHere)} sold)`),
        h("span", { class: "bar", "aria-hidden": "true" },
          h("span", { class: "bar-sold", style: `width: ${pct(soldHere)}` }),
          h("span", { class: "bar-held", style: `width: ${pct(heldHere)}` }),
        ),
      );
    }));
  };
  const addPoint = () => {
    const { tickets, revenueCents } = totals();
    chart?.add({ at: Date.now(), tickets, revenueCents });
  };
  render(
    h("h1", {}, `Sales: ${event.title}`),
    h("p", { class: "meta" }, `${event.venue} · ${formatDate(event.startsAt)} · `, h("a", { href: `#/events/${event.id}` }, "Buyer's page")),
    liveState,
    tiles,
    h("h2", {}, "Tickets sold and revenue"),
    h("ul", { class: "legend", "aria-label": "Chart lines" },
      h("li", {}, h("span", { class: "swatch-tickets" }), "tickets sold (left scale)"),
      h("li", {}, h("span", { class: "swatch-revenue" }), "revenue (right scale)"),
    ),
    chartBox,
    h("h2", {}, "Sell-through per section"),
    h("ul", { class: "legend", "aria-label": "Bar colours" },
      h("li", {}, h("span", { class: "swatch-sold" }), "sold"),
      h("li", {}, h("span", { class: "swatch-held" }), "held (returns when the hold expires)"),
    ),
    bars,
    h("h2", {}, "Last orders"),
    orders,
  );
  paint();
  const stopRoom = roomPanel(eventId);

  const pending: SaleMessage[] = [];
  const applySale = (sale: SaleMessage) => {
    if (seen.has(sale.orderId)) return;
    seen.add(sale.orderId);
    for (const part of sale.sections) {
      const section = event.sections.find((s) => s.name === part.section);
      if (section) sold.set(section.id, (sold.get(section.id) ?? 0) + part.tickets);
    }
    if (orders.querySelector(".meta")) orders.replaceChildren();
    orders.prepend(h("li", {}, h("time", { datetime: sale.at }, new Date(sale.at).toLocaleTimeString("en-GB")), ` · ${sale.tickets} ticket${sale.tickets === 1 ? "" : "s"} · ${formatMoney(sale.totalCents)} · ${sale.sections.map((p) => `${p.section} ×${p.tickets}`).join(", ")}`));
    while (orders.children.length > 10) orders.lastElementChild?.remove();
  };
  const live = watchAvailability(eventId, (message) => {
    if (message.type === "sale") {
      // Sales that arrive while the counts load are applied after them (their seats may be counted already).
      if (!counted) return void pending.push(message);
      applySale(message);
      addPoint();
    } else {
      event = { ...event, sections: event.sections.map((s) => ({ ...s, available: message.sections.find((m) => m.id === s.id)?.available ?? s.available })) };
      for (const s of event.sections) taken.set(s.id, s.capacity - s.available);
    }
    paint();
  }, (state) => {
    liveState.dataset.state = state;
    liveState.textContent = state === "live" ? "● Live" : "Reconnecting…";
  }, { sales: true });

  void (async () => {
    try {
      const counts = await Promise.all(event.sections.map(async (s) => {
        const seats = await api.sectionSeats(eventId, s.id);
        return { id: s.id, sold: seats.filter((x) => x.status === "sold").length, taken: seats.filter((x) => x.status !== "available").length };
      }));
      for (const c of counts) {
        sold.set(c.id, c.sold);
        taken.set(c.id, c.taken);
      }
      // A sale that came in while counting is in the counts already: remember it as seen.
      for (const sale of pending.splice(0)) seen.add(sale.orderId);
      counted = true;
      const { tickets, revenueCents } = totals();
      chart = createSalesChart({ at: Date.now(), tickets, revenueCents });
      chartBox.replaceChildren(chart.element);
      paint();
    } catch (error) {
      notify(describeError(error), "error");
    }
  })();
  const tick = window.setInterval(() => chart?.paint(), 5000);
  return () => {
    live.close();
    stopRoom();
    window.clearInterval(tick);
  };
}

/** The event's waiting room, live: waiting, admitted, admissions per minute, with pause and cap. */
function roomPanel(eventId: string): () => void {
  const numbers = h("dl", { class: "room-stats", id: "room-stats" });
  const pause = h("button", { type: "button", id: "room-pause" }, "Pause admissions");
  const cap = h("input", { type: "number", min: 0, name: "maxAdmitted", id: "room-cap", placeholder: "no cap" });
  const capForm = h("form", { class: "row", "aria-label": "Cap admissions" }, h("label", {}, "Admitted at once at most", cap), h("button", { type: "submit", class: "secondary" }, "Set cap"));
  const panel = h("section", { class: "card", "aria-label": "Waiting room" }, h("h2", {}, "Waiting room"), numbers, h("p", {}, pause), capForm);
  document.getElementById("main")?.append(panel);
  let paused = false;
  const show = (stats: QueueStats) => {
    paused = stats.paused;
    const item = (label: string, value: string, id: string) => [h("dt", {}, label), h("dd", { "data-stat": id }, value)];
    numbers.replaceChildren(
      ...item("Waiting", stats.waiting.toLocaleString("en-US"), "waiting"),
      ...item("Admitted now", stats.admitted.toLocaleString("en-US"), "admitted"),
      ...item("Admitted in the last minute", stats.admittedPerMinute.toLocaleString("en-US"), "admittedPerMinute"),
      ...item("State", stats.paused ? "paused" : "admitting", "paused"),
      ...item("Cap", stats.maxAdmitted === null ? "set by the platform (measured checkout capacity)" : stats.maxAdmitted.toLocaleString("en-US"), "maxAdmitted"),
    );
    pause.textContent = stats.paused ? "Resume admissions" : "Pause admissions";
  };
  const refresh = () => api.queueStats(eventId).then(show).catch(() => {});
  pause.addEventListener("click", () => void api.controlQueue(eventId, { paused: !paused }).then(show).catch((error: unknown) => notify(describeError(error), "error")));
  capForm.addEventListener("submit", (e) => {
    e.preventDefault();
    void api.controlQueue(eventId, { maxAdmitted: cap.value === "" ? null : Number(cap.value) }).then(show).catch((error: unknown) => notify(describeError(error), "error"));
  });
  void refresh();
  const timer = window.setInterval(() => void refresh(), 2000);
  return () => window.clearInterval(timer);
}
