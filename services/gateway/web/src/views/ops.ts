// Operators: the running platform as a picture — each service a box with its instances and its
// shards, the bus between them with the busiest methods and the request channels' depths, the
// firehose's consumer groups and the waiting rooms. Polls GET /api/ops/overview every 2 s.
import { api, describeError, type OpsOverview } from "../api.ts";
import { h, render } from "../dom.ts";
import { user } from "../state.ts";

const SERVICES = ["gateway", "users", "events", "inventory", "payments"];

function ago(iso: string): string {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return seconds < 60 ? `${seconds} s ago` : `${Math.round(seconds / 60)} min ago`;
}

function serviceBox(o: OpsOverview, service: string): HTMLElement {
  const instances = o.instances.filter((i) => i.service === service);
  const shards = o.shards.filter((s) => s.service === service);
  const channel = o.channels.find((c) => c.name === `${service}.rpc`);
  const live = instances.filter((i) => !i.gone).length;
  return h("section", { class: `card ops-service${live === 0 ? " ops-down" : ""}`, "aria-label": `${service} service`, "data-service": service },
    h("h2", {}, service, " ", h("span", { class: "badge" }, `${live} live`)),
    channel ? h("p", { class: "meta" }, `request channel ${channel.name}: `, h("meter", { min: 0, max: channel.capacity, value: channel.depth, title: `${channel.depth} of ${channel.capacity}` }), ` ${channel.depth}/${channel.capacity}`) : null,
    h("ul", { class: "ops-instances" }, ...instances.map((i) =>
      h("li", { class: i.gone ? "ops-gone" : "ops-live", "data-instance": i.instance },
        h("strong", {}, i.instance), " ",
        i.gone ? h("span", { class: "badge soldout" }, `gone · last seen ${ago(i.lastSeenAt)}`) : h("span", { class: "meta" }, `${i.handledPerSecond}/s · ${i.errorsPerSecond} err/s · ${i.inFlight} in flight`),
      ))),
    shards.length ? h("ul", { class: "ops-shards", "aria-label": `${service} shards` }, ...shards.map((s) =>
      h("li", { class: s.reachable ? "ops-shard" : "ops-shard ops-unreachable", title: s.logicalShards.map(([a, b]) => `${a}–${b}`).join(", ") },
        `${s.shard}${s.replicas ? ` +${s.replicas} replica${s.replicas > 1 ? "s" : ""}` : ""}`, s.reachable ? "" : " ✕ unreachable"))) : null,
  );
}

function paint(o: OpsOverview): HTMLElement {
  const busiest = o.methods.slice(0, 8);
  return h("div", { class: "ops" },
    h("p", { class: "meta" }, `Updated ${new Date(o.generatedAt).toLocaleTimeString()} · refreshes every 2 s`),
    h("div", { class: "ops-row" }, serviceBox(o, "gateway")),
    h("section", { class: "card ops-bus", "aria-label": "the bus" },
      h("h2", {}, "bus"),
      busiest.length === 0 ? h("p", { class: "meta" }, "no RPC calls in the last minute") :
        h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "method"), h("th", {}, "calls/s"), h("th", {}, "p50"), h("th", {}, "p99"), h("th", {}, "err/s"))),
          h("tbody", {}, ...busiest.map((m) => h("tr", {}, h("td", {}, m.method), h("td", {}, String(m.callsPerSecond)), h("td", {}, m.p50Ms === null ? "–" : `${m.p50Ms} ms`), h("td", {}, m.p99Ms === null ? "–" : `${m.p99Ms} ms`), h("td", {}, String(m.errorsPerSecond))))))),
    h("div", { class: "ops-row" }, ...SERVICES.filter((s) => s !== "gateway").map((s) => serviceBox(o, s)),
      ...[...new Set(o.instances.map((i) => i.service))].filter((s) => !SERVICES.includes(s)).map((s) => serviceBox(o, s))),
    h("div", { class: "ops-row" },
      h("section", { class: "card", "aria-label": "firehose" }, h("h2", {}, "firehose"),
        o.firehose.length === 0 ? h("p", { class: "meta" }, "no consumer groups to show (the embedded firehose keeps none)") :
          h("ul", {}, ...o.firehose.map((f) => h("li", {}, `${f.stream} → ${f.group}: lag ${f.lag ?? "?"}, pending ${f.pending}`, f.deadLetters ? h("span", { class: "badge soldout" }, ` ${f.deadLetters} dead letters`) : "")))),
      h("section", { class: "card", "aria-label": "waiting rooms" }, h("h2", {}, "waiting rooms"),
        o.rooms.length === 0 ? h("p", { class: "meta" }, "nobody is waiting") :
          h("ul", {}, ...o.rooms.map((r) => h("li", {}, h("strong", {}, r.title), ` ${r.waiting} waiting · ${r.admitted} admitted · ${r.admittedPerMinute}/min${r.paused ? " · paused" : ""}`)))),
    ),
  );
}

export function opsView(): () => void {
  if (user()?.role !== "operator") {
    render(h("h1", {}, "Operator console"), h("p", {}, "Sign in with an operator account to see the running platform. "), h("p", {}, h("a", { href: "#/signin?next=%2Fops" }, "Sign in")));
    return () => {};
  }
  const body = h("div", { "aria-live": "polite" }, h("p", { class: "meta" }, "Loading…"));
  render(h("h1", {}, "Operator console"), body);
  let stopped = false;
  const refresh = async () => {
    try {
      const overview = await api.opsOverview();
      if (!stopped) body.replaceChildren(paint(overview));
    } catch (error) {
      if (!stopped) body.replaceChildren(h("p", { class: "notice error" }, describeError(error)));
    }
  };
  void refresh();
  const timer = window.setInterval(() => void refresh(), 2000);
  return () => {
    stopped = true;
    window.clearInterval(timer);
  };
}
