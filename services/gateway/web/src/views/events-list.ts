// The event list: a page at a time with a "more events" cursor (never page counts).
import { api, describeError, formatDate, formatMoney, type EventSummary } from "../api.ts";
import { h, notify, render } from "../dom.ts";

function eventCard(event: EventSummary): HTMLLIElement {
  const soldOut = event.available === 0;
  return h("li", { class: "card" },
    h("h2", {}, h("a", { href: `#/events/${event.id}` }, event.title)),
    h("p", { class: "meta" }, `${event.venue} · ${formatDate(event.startsAt)}`),
    h("p", { class: "meta" },
      `From ${formatMoney(event.minPriceCents)} · `,
      soldOut ? h("span", { class: "badge soldout" }, "Sold out") : `${event.available.toLocaleString("en-US")} seats left`,
    ),
  );
}

export async function eventsListView(): Promise<void> {
  const list = h("ul", { class: "cards", "aria-label": "Events" });
  const more = h("button", { type: "button", class: "secondary" }, "More events");
  let cursor: string | null = null;

  const load = async (): Promise<void> => {
    more.disabled = true;
    try {
      const page = await api.events(cursor ?? undefined);
      list.append(...page.events.map(eventCard));
      cursor = page.nextCursor;
      more.hidden = cursor === null;
      if (list.children.length === 0) list.append(h("li", {}, "No events on sale yet."));
    } catch (error) {
      notify(describeError(error), "error", { retryAfterSeconds: (error as { retryAfterSeconds?: number }).retryAfterSeconds, onRetry: () => void load() });
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener("click", () => void load());
  render(h("h1", {}, "Events on sale"), list, h("p", {}, more));
  await load();
}
