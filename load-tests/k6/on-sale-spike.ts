// k6 scenario: the on-sale spike through the waiting room (v1.1). The event opens SALES_OPEN_IN
// seconds after setup, so the first arrivals wait in the pre-queue; each iteration is one buyer who
// signs up, signs in, joins the event's waiting room, polls at pollAfterSeconds until admitted, then
// holds seats and pays with the test card. A hold answered NOT_ADMITTED sends the buyer to the room.
// Run (k6 ≥ 0.57 runs TypeScript directly):
//   k6 run -e BASE_URL=http://127.0.0.1:3000 -e EVENT_ID=<id> load-tests/k6/on-sale-spike.ts
// Without EVENT_ID the setup step signs in as the demo organiser and creates a fresh event.
import { check, sleep } from "k6";
import http from "k6/http";
import type { RefinedResponse, ResponseType } from "k6/http";
import { Counter, Trend } from "k6/metrics";
import type { Options } from "k6/options";

const BASE_URL = __ENV.BASE_URL ?? "http://127.0.0.1:3000";
const PEAK_RATE = Number(__ENV.PEAK_RATE ?? 200); // buyers arriving per second at the peak
const SALES_OPEN_IN = Number(__ENV.SALES_OPEN_IN ?? 30); // seconds from setup to salesStartAt
const MAX_WAIT_SECONDS = Number(__ENV.MAX_WAIT_SECONDS ?? 600); // a buyer gives up after this long in line

export const options: Options = {
  scenarios: {
    onSale: {
      executor: "ramping-arrival-rate",
      startRate: 5,
      timeUnit: "1s",
      // Waiting buyers hold a VU each while they poll: pre-allocate for the line, not for the rate.
      preAllocatedVUs: 2000,
      maxVUs: 5000,
      stages: [
        { target: PEAK_RATE, duration: "30s" },
        { target: PEAK_RATE, duration: "2m" },
        { target: 0, duration: "30s" },
      ],
    },
  },
  // On the spike scenario only (setup's own requests do not count). Sold out, seat taken, not admitted,
  // 429 and 503 with Retry-After are answers, not failures; a 500, a timeout or a refused connection is.
  thresholds: {
    "http_req_failed{scenario:onSale}": ["rate<0.001"],
    "dropped_iterations{scenario:onSale}": ["count<1"],
    "checks{scenario:onSale}": ["rate>0.99"],
    admitted_checkout_duration: ["p(99)<500"],
  },
};

const bought = new Counter("tickets_bought");
const shed = new Counter("requests_shed_503");
const checkoutDuration = new Trend("admitted_checkout_duration", true);
const waitDuration = new Trend("waiting_room_wait", true);
const json = { headers: { "content-type": "application/json" } };
const expected = http.expectedStatuses(200, 201, 204, 402, 409, 429, 503);

function isAnswer(r: RefinedResponse<ResponseType | undefined>): boolean {
  if (r.status === 503) {
    shed.add(1);
    return r.headers["Retry-After"] !== undefined;
  }
  return r.status < 500;
}

export function setup(): { eventId: string } {
  if (__ENV.EVENT_ID) return { eventId: __ENV.EVENT_ID };
  const login = http.post(`${BASE_URL}/api/session`, JSON.stringify({ email: "organizer@boxoffice.test", password: "organizer-password" }), json);
  check(login, { "organiser signed in": (r) => r.status === 200 });
  const created = http.post(
    `${BASE_URL}/api/events`,
    JSON.stringify({
      title: `k6 on-sale ${new Date().toISOString()}`,
      venue: "k6 Arena",
      startsAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
      salesStartAt: new Date(Date.now() + SALES_OPEN_IN * 1000).toISOString(),
      sections: [
        { name: "Floor", rows: 50, seatsPerRow: 40, priceCents: 9000 },
        { name: "Balcony", rows: 30, seatsPerRow: 30, priceCents: 4500 },
      ],
    }),
    json,
  );
  check(created, { "event created": (r) => r.status === 201 });
  return { eventId: (created.json("event.id") as string) ?? "" };
}

export default function onSaleBuyer(data: { eventId: string }): void {
  const email = `k6-${__VU}-${__ITER}-${Date.now()}@load.test`;
  const signUp = http.post(`${BASE_URL}/api/users`, JSON.stringify({ email, password: "k6-password-123", displayName: "k6 buyer" }), { ...json, responseCallback: expected });
  if (!check(signUp, { "sign-up answered": isAnswer }) || signUp.status !== 201) return;
  const signIn = http.post(`${BASE_URL}/api/session`, JSON.stringify({ email, password: "k6-password-123" }), { ...json, responseCallback: expected });
  if (!check(signIn, { "sign-in answered": isAnswer }) || signIn.status !== 200) return;

  const page = http.get(`${BASE_URL}/api/events/${data.eventId}`, { responseCallback: expected });
  check(page, { "event page answered": isAnswer });
  sleep(Math.random() * 2); // a person looks at the seat map

  if (waitInRoom(data.eventId) !== "admitted") return;
  const started = Date.now();
  const quantity = JSON.stringify({ quantity: 1 + Math.floor(Math.random() * 4) });
  let hold = http.post(`${BASE_URL}/api/events/${data.eventId}/holds`, quantity, { ...json, responseCallback: expected });
  if (hold.status === 409 && hold.json("error.code") === "NOT_ADMITTED") {
    // The admission ran out or the room moved on: line up again.
    if (waitInRoom(data.eventId) !== "admitted") return;
    hold = http.post(`${BASE_URL}/api/events/${data.eventId}/holds`, quantity, { ...json, responseCallback: expected });
  }
  if (!check(hold, { "hold answered": isAnswer }) || hold.status !== 201) return;
  const order = http.post(
    `${BASE_URL}/api/orders`,
    JSON.stringify({ holdId: hold.json("hold.id"), payment: { cardNumber: "4242424242424242", expMonth: 12, expYear: 2035, cvc: "123" } }),
    { headers: { ...json.headers, "Idempotency-Key": `${email}-order` }, responseCallback: expected },
  );
  check(order, { "order answered": isAnswer, "order confirmed": (r) => r.status !== 201 || r.json("order.status") === "confirmed" });
  if (order.status === 201) {
    checkoutDuration.add(Date.now() - started);
    bought.add((order.json("order.tickets") as unknown[]).length);
  }
}

/** Joins the event's waiting room and polls as told until admitted, sold out, or out of patience. */
function waitInRoom(eventId: string): "admitted" | "sold_out" | "gave_up" {
  const joinedAt = Date.now();
  let r = http.post(`${BASE_URL}/api/events/${eventId}/queue`, null, { responseCallback: expected });
  for (;;) {
    if (!check(r, { "queue answered": isAnswer })) return "gave_up";
    if (r.status === 409) return "sold_out";
    let pause: number;
    if (r.status === 200) {
      const status = r.json("queue.status") as string;
      if (status === "admitted") {
        waitDuration.add(Date.now() - joinedAt);
        return "admitted";
      }
      if (status === "sold_out") return "sold_out";
      if (status === "expired") {
        r = http.post(`${BASE_URL}/api/events/${eventId}/queue`, null, { responseCallback: expected });
        continue;
      }
      pause = Number(r.json("queue.pollAfterSeconds") ?? 2);
    } else {
      pause = Number(r.headers["Retry-After"] ?? 2);
    }
    if (Date.now() - joinedAt > MAX_WAIT_SECONDS * 1000) return "gave_up";
    sleep(pause);
    r = http.get(`${BASE_URL}/api/events/${eventId}/queue`, { responseCallback: expected });
  }
}
