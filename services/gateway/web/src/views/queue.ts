// The waiting room of an event: a countdown to the opening while in the pre-queue, then the place in
// line, the estimated wait and a progress bar; it asks again when the room says (pollAfterSeconds)
// and moves on to seat selection by itself once admitted.
import { api, ApiError, describeError, formatDate, type EventDetail, type Queue } from "../api.ts";
import { h, notify, render } from "../dom.ts";
import { navigate, rememberAdmission, user } from "../state.ts";

function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return hours > 0 ? `${hours} h ${minutes} min` : minutes > 0 ? `${minutes} min ${String(rest).padStart(2, "0")} s` : `${rest} s`;
}

export async function queueView(eventId: string): Promise<() => void> {
  if (!user()) {
    navigate(`/signin?next=${encodeURIComponent(`/events/${eventId}/queue`)}`);
    return () => {};
  }
  let event: EventDetail;
  try {
    event = await api.event(eventId);
  } catch (error) {
    render(h("h1", {}, "Waiting room"), h("p", {}, describeError(error)));
    return () => {};
  }

  const headline = h("p", { class: "queue-status", id: "queue-status", "aria-live": "polite" }, "Joining the waiting room…");
  const details = h("p", { class: "meta", id: "queue-details" });
  const progress = h("progress", { id: "queue-progress", max: 100, value: 0, "aria-label": "Progress through the line" });
  const action = h("p", {});
  render(
    h("h1", {}, `Waiting room: ${event.title}`),
    h("p", { class: "meta" }, `${event.venue} · ${formatDate(event.startsAt)}`),
    headline,
    progress,
    details,
    action,
    h("p", { class: "meta" }, "Keep this page open: it moves on to seat selection by itself when it is your turn. Your place is kept if you reload."),
  );

  let stopped = false;
  let pollTimer: number | undefined;
  let tick: number | undefined;
  let firstPosition: number | null = null;
  let current: Queue | null = null;

  function paint(queue: Queue): void {
    current = queue;
    window.clearInterval(tick);
    action.replaceChildren();
    if (queue.status === "admitted") {
      headline.textContent = "It's your turn! Taking you to seat selection…";
      progress.value = 100;
      rememberAdmission(eventId, queue.admittedUntil);
      navigate(`/events/${eventId}`);
      return;
    }
    if (queue.status === "sold_out") {
      headline.textContent = "Sold out: nothing is left to hold for this event.";
      details.textContent = "Seats can come back when other buyers' holds expire; check the event page later.";
      progress.value = 0;
      return;
    }
    if (queue.status === "expired") {
      headline.textContent = "Your turn came and went: the admission ran out unused.";
      details.textContent = "";
      action.append(h("button", { type: "button", onclick: () => void join() }, "Join the line again"));
      return;
    }
    if (queue.position === null) {
      // The pre-queue: everyone here gets a random place at the opening.
      const paintCountdown = () => {
        const left = (Date.parse(queue.salesStartAt) - Date.now()) / 1000;
        headline.textContent = left > 0 ? `The sale opens in ${duration(left)}` : "The sale is opening…";
      };
      paintCountdown();
      tick = window.setInterval(paintCountdown, 1000);
      details.textContent = `You are in the pre-queue. At ${formatDate(queue.salesStartAt)} everyone in it gets a random place in line; people who come later line up behind.`;
      progress.value = 0;
      return;
    }
    firstPosition ??= queue.position;
    headline.textContent = queue.position === 1 ? "You are next in line." : `You are number ${queue.position.toLocaleString("en-US")} in line.`;
    details.textContent = `${(queue.ahead ?? 0).toLocaleString("en-US")} ahead of you · estimated wait ${duration(queue.estimatedWaitSeconds ?? 0)}`;
    progress.value = firstPosition > 1 ? Math.round((100 * (firstPosition - queue.position)) / (firstPosition - 1)) : 100;
  }

  function schedule(seconds: number): void {
    if (stopped) return;
    window.clearTimeout(pollTimer);
    pollTimer = window.setTimeout(() => void ask(), Math.max(1, seconds) * 1000);
  }

  async function ask(): Promise<void> {
    try {
      const queue = await api.queue(eventId);
      paint(queue);
      if (queue.status === "waiting") schedule(queue.pollAfterSeconds);
    } catch (error) {
      if (error instanceof ApiError && error.code === "NOT_IN_QUEUE") return void join();
      // Too early, busy or away: ask again when told, the place is kept meanwhile.
      schedule(error instanceof ApiError ? (error.retryAfterSeconds ?? current?.pollAfterSeconds ?? 5) : 5);
    }
  }

  async function join(): Promise<void> {
    try {
      const queue = await api.joinQueue(eventId);
      paint(queue);
      if (queue.status === "waiting") schedule(queue.pollAfterSeconds);
    } catch (error) {
      if (error instanceof ApiError && error.code === "SOLD_OUT") {
        paint({ status: "sold_out", position: null, ahead: null, estimatedWaitSeconds: null, pollAfterSeconds: 30, salesStartAt: event.salesStartAt ?? event.startsAt, admittedUntil: null });
        return;
      }
      notify(describeError(error), "warn");
      schedule(error instanceof ApiError ? (error.retryAfterSeconds ?? 5) : 5);
    }
  }

  // Joining again returns the same place, so a reload never loses it.
  await join();
  return () => {
    stopped = true;
    window.clearTimeout(pollTimer);
    window.clearInterval(tick);
  };
}
