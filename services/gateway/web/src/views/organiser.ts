// Organisers: create an event with sections and prices (on sale at once), and watch sales per
// section live.
import { api, describeError, formatDate, formatMoney, type EventDetail, type QueueStats } from "../api.ts";
import { h, notify, render } from "../dom.ts";
import { watchAvailability } from "../live.ts";
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
  const body = h("tbody");
  const liveState = h("p", { class: "live" }, "Connecting to live sales…");
  const paint = () => {
    body.replaceChildren(...event.sections.map((s) => {
      const sold = s.capacity - s.available;
      return h("tr", { "data-section": s.id },
        h("th", { scope: "row" }, s.name),
        h("td", {}, formatMoney(s.priceCents)),
        h("td", { "data-sold": s.id }, `${sold.toLocaleString("en-US")} / ${s.capacity.toLocaleString("en-US")}`),
        h("td", {}, formatMoney(sold * s.priceCents)),
      );
    }));
  };
  render(
    h("h1", {}, `Sales: ${event.title}`),
    h("p", { class: "meta" }, `${event.venue} · ${formatDate(event.startsAt)} · `, h("a", { href: `#/events/${event.id}` }, "Buyer's page")),
    liveState,
    h("table", {},
      h("caption", { class: "meta" }, "Sold or held seats per section (held seats return when holds expire)"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Section"), h("th", { scope: "col" }, "Price"), h("th", { scope: "col" }, "Taken / capacity"), h("th", { scope: "col" }, "Value"))),
      body,
    ),
  );
  paint();
  const stopRoom = roomPanel(eventId);
  const live = watchAvailability(eventId, (message) => {
    const bySection = new Map(message.sections.map((s) => [s.id, s.available]));
    event = { ...event, sections: event.sections.map((s) => ({ ...s, available: bySection.get(s.id) ?? s.available })) };
    paint();
  }, (state) => {
    liveState.dataset.state = state;
    liveState.textContent = state === "live" ? "● Live" : "Reconnecting…";
  });
  const onFocus = () => void api.event(eventId).then((next) => { event = next; paint(); }).catch(() => {});
  window.addEventListener("focus", onFocus);
  return () => {
    live.close();
    stopRoom();
    window.removeEventListener("focus", onFocus);
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
