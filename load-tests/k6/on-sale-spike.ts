// k6 scenario: the on-sale spike. Everyone arrives in the same minutes; each iteration is one buyer
// who signs up, signs in, looks at the event, holds seats and pays with the test card.
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

export const options: Options = {
  scenarios: {
    onSale: {
      executor: "ramping-arrival-rate",
      startRate: 5,
      timeUnit: "1s",
      preAllocatedVUs: 100,
      maxVUs: 1000,
      stages: [
        { target: PEAK_RATE, duration: "30s" },
        { target: PEAK_RATE, duration: "2m" },
        { target: 0, duration: "30s" },
      ],
    },
  },
  thresholds: {
    // Sold out, seat taken and busy are answers, not failures; a 500 is a failure.
    "http_req_failed{expected:false}": ["rate<0.001"],
    checks: ["rate>0.99"],
    checkout_duration: ["p(99)<3000"],
  },
};

const bought = new Counter("tickets_bought");
const shed = new Counter("requests_shed_503");
const checkoutDuration = new Trend("checkout_duration", true);
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

  const started = Date.now();
  const hold = http.post(`${BASE_URL}/api/events/${data.eventId}/holds`, JSON.stringify({ quantity: 1 + Math.floor(Math.random() * 4) }), { ...json, responseCallback: expected });
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
