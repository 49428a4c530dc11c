// Checkout: the held seats, a countdown to the hold's expiry, and a card form. Each distinct
// payment attempt gets its own Idempotency-Key; resubmitting the same attempt (a retry after a
// network failure) reuses it, so the buyer is never charged twice.
import { api, ApiError, describeError, formatMoney } from "../api.ts";
import { h, notify, render } from "../dom.ts";
import { forgetHold, navigate, recallHold } from "../state.ts";

export const TEST_CARDS: Array<[number: string, outcome: string]> = [
  ["4242 4242 4242 4242", "succeeds"],
  ["4000 0000 0000 0002", "is declined"],
  ["4000 0000 0000 9995", "is declined: insufficient funds"],
];

export function checkoutView(holdId: string): () => void {
  const hold = recallHold(holdId);
  if (!hold) {
    render(h("h1", {}, "Checkout"), h("p", {}, "This hold is not in this browser any more. "), h("p", {}, h("a", { href: "#/" }, "Back to events")));
    return () => {};
  }
  const expiresAt = Date.parse(hold.expiresAt);
  const countdown = h("span", { class: "countdown", id: "hold-countdown" });
  const countdownLine = h("p", { role: "timer", "aria-live": "off" }, "Seats held for ", countdown);
  const payButton = h("button", { type: "submit" }, `Pay ${formatMoney(hold.totalCents)}`);
  const releaseButton = h("button", { type: "button", class: "secondary" }, "Release seats");
  const keys = new Map<string, string>();
  let expired = false;

  const tick = () => {
    const left = Math.max(0, expiresAt - Date.now());
    const minutes = Math.floor(left / 60_000);
    const seconds = Math.floor((left % 60_000) / 1000);
    countdown.textContent = `${minutes}:${String(seconds).padStart(2, "0")}`;
    if (left === 0 && !expired) {
      expired = true;
      payButton.disabled = true;
      countdownLine.textContent = "Your hold expired and the seats were released.";
      notify("Your hold expired and the seats were released. Choose your seats again.", "error");
    }
  };
  tick();
  const timer = window.setInterval(tick, 250);

  const field = (label: string, input: HTMLInputElement, hint?: string) => h("label", {}, label, hint ? h("span", { class: "hint" }, hint) : null, input);
  const cardNumber = h("input", { name: "cardNumber", inputmode: "numeric", autocomplete: "cc-number", required: true, value: "4242 4242 4242 4242" });
  const expMonth = h("input", { name: "expMonth", inputmode: "numeric", autocomplete: "cc-exp-month", required: true, value: "12", size: 3 });
  const expYear = h("input", { name: "expYear", inputmode: "numeric", autocomplete: "cc-exp-year", required: true, value: String(new Date().getFullYear() + 2), size: 5 });
  const cvc = h("input", { name: "cvc", inputmode: "numeric", autocomplete: "cc-csc", required: true, value: "123", size: 4 });

  const form = h("form", { "aria-label": "Payment" },
    field("Card number", cardNumber),
    h("div", { class: "row" }, field("Expiry month", expMonth), field("Expiry year", expYear), field("CVC", cvc)),
    h("div", { class: "row" }, payButton, releaseButton),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (expired) return;
    const payment = { cardNumber: cardNumber.value.replace(/\s+/g, ""), expMonth: Number(expMonth.value), expYear: Number(expYear.value), cvc: cvc.value.trim() };
    const attempt = JSON.stringify(payment);
    const key = keys.get(attempt) ?? crypto.randomUUID();
    keys.set(attempt, key);
    payButton.disabled = true;
    try {
      const order = await api.order({ holdId: hold.id, payment }, key);
      forgetHold(hold.id);
      notify("Payment accepted. Enjoy the show!", "ok");
      navigate(`/orders/${order.id}`);
    } catch (error) {
      const apiError = error instanceof ApiError ? error : undefined;
      notify(describeError(error), apiError?.code === "BUSY" ? "warn" : "error", apiError?.code === "BUSY" ? { retryAfterSeconds: apiError.retryAfterSeconds ?? 2, onRetry: () => form.requestSubmit() } : {});
      if (apiError?.code === "HOLD_EXPIRED") {
        expired = true;
        countdownLine.textContent = "Your hold expired and the seats were released.";
        forgetHold(hold.id);
      }
    } finally {
      payButton.disabled = expired;
    }
  });
  releaseButton.addEventListener("click", async () => {
    try {
      await api.releaseHold(hold.id);
    } catch {
      // Already expired or released: either way the seats are free.
    }
    forgetHold(hold.id);
    notify("Seats released.", "ok");
    navigate(`/events/${hold.eventId}`);
  });

  render(
    h("h1", {}, "Checkout"),
    countdownLine,
    h("h2", {}, "Your seats"),
    h("table", {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Section"), h("th", { scope: "col" }, "Row"), h("th", { scope: "col" }, "Seat"), h("th", { scope: "col" }, "Price"))),
      h("tbody", {}, ...hold.seats.map((s) => h("tr", {}, h("td", {}, s.section), h("td", {}, s.row), h("td", {}, s.number), h("td", {}, formatMoney(s.priceCents))))),
      h("tfoot", {}, h("tr", {}, h("th", { scope: "row", colspan: 3 }, "Total"), h("td", {}, formatMoney(hold.totalCents)))),
    ),
    h("h2", {}, "Pay with a test card"),
    h("ul", { class: "test-cards", "aria-label": "Test cards" },
      ...TEST_CARDS.map(([number, outcome]) =>
        h("li", {}, h("button", { type: "button", class: "link", onclick: () => { cardNumber.value = number; cardNumber.focus(); } }, h("code", {}, number)), ` ${outcome}`),
      ),
      h("li", {}, "Any other number is declined as invalid. Any future expiry and any CVC work."),
    ),
    form,
  );
  return () => window.clearInterval(timer);
}
