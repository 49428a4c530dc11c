// `npm run load -- --url http://127.0.0.1:3000 --buyers 300 --concurrency 32 --seats 100`
// Runs the on-sale spike against a running platform on this machine and prints the report.
import { parseArgs } from "node:util";
import { runOnSale } from "./on-sale.ts";

const { values } = parseArgs({
  options: {
    url: { type: "string", default: "http://127.0.0.1:3000" },
    buyers: { type: "string", default: "300" },
    concurrency: { type: "string", default: "32" },
    seats: { type: "string", default: "100" },
    quantity: { type: "string", default: "2" },
    seconds: { type: "string", default: "120" },
    /** The event opens this many seconds after creation: buyers wait in the waiting room's pre-queue. */
    "opens-in": { type: "string" },
  },
});
const report = await runOnSale({
  baseUrl: values.url,
  buyers: Number(values.buyers),
  concurrency: Number(values.concurrency),
  seats: Number(values.seats),
  quantity: Number(values.quantity),
  maxDurationMs: Number(values.seconds) * 1000,
  salesOpenInSeconds: values["opens-in"] === undefined ? undefined : Number(values["opens-in"]),
});
console.log(JSON.stringify(report, null, 2));
const oversold = report.ticketsSold > report.capacity || report.ticketsSold + report.seatsAvailableAfter > report.capacity;
if (oversold || report.serverErrors > 0 || report.busyWithoutRetryAfter > 0) {
  console.error("on-sale invariants broken: see the report above");
  process.exitCode = 1;
}
