// The Grafana dashboard and Prometheus config are checked without running either: the dashboard
// parses, every metric its PromQL reads is one a gateway's /metrics exports (the names come from
// the code's own registry, not a list kept here), and compose's optional "observability" profile
// mounts these files where Prometheus and Grafana look for them.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createGatewayMetrics, registerOpsGauges } from "@boxoffice/gateway";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { composeEnvironment, INFRA, isObject, loadCompose, type JsonObject } from "./infra-support.ts";

const DASHBOARDS = join(INFRA, "grafana", "dashboards");
const compose = loadCompose();
const services = compose.services as Record<string, JsonObject>;

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
  datasource?: { uid?: string };
}

const PROMQL_WORDS = new Set(["and", "or", "unless", "bool", "offset", "inf", "nan"]);

/** The metric names a PromQL expression reads (functions, label matchers, ranges and groupings removed). */
function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  const names: string[] = [];
  for (const match of bare.matchAll(/(?<![\w.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    if (match[2] || PROMQL_WORDS.has(match[1].toLowerCase())) continue;
    names.push(match[1]);
  }
  return names;
}

/** Every series name a gateway's /metrics can show: histograms as their _bucket/_count/_sum series. */
async function exportedSeries(): Promise<Set<string>> {
  const metrics = createGatewayMetrics();
  registerOpsGauges(metrics.registry, () => Promise.reject(new Error("no platform here")));
  const names = new Set<string>();
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    if (String(metric.type) === "histogram") for (const suffix of ["_bucket", "_count", "_sum"]) names.add(`${metric.name}${suffix}`);
    else names.add(metric.name);
  }
  return names;
}

function dashboards(): Array<{ file: string; panels: Panel[]; json: JsonObject }> {
  return readdirSync(DASHBOARDS)
    .filter((f) => f.endsWith(".json"))
    .map((file) => {
      const json = JSON.parse(readFileSync(join(DASHBOARDS, file), "utf8")) as JsonObject;
      return { file, json, panels: json.panels as unknown as Panel[] };
    });
}

/** Host side of a compose bind mount "../x:/container[:ro]", resolved from infra/compose. */
function mounts(definition: JsonObject): Array<{ host: string; container: string }> {
  return ((definition.volumes ?? []) as string[])
    .filter((v) => typeof v === "string" && v.startsWith("."))
    .map((v) => ({ host: join(INFRA, "compose", v.split(":")[0]), container: v.split(":")[1] }));
}

describe("the Grafana dashboard", () => {
  it("when PromQL names a metric, a gateway's /metrics exports it", async () => {
    const exported = await exportedSeries();
    const found = dashboards();
    expect(found.length, "a dashboard under infra/grafana/dashboards").toBeGreaterThan(0);
    let queries = 0;
    for (const { file, panels } of found) {
      for (const panel of panels.filter((p) => p.type !== "row")) {
        expect(panel.targets?.length, `${file}: panel "${panel.title}" has queries`).toBeGreaterThan(0);
        for (const { expr } of panel.targets ?? []) {
          queries++;
          const names = metricNamesIn(expr);
          expect(names.length, `${file}: "${panel.title}" reads a metric: ${expr}`).toBeGreaterThan(0);
          for (const name of names) expect(exported.has(name), `${file}: "${panel.title}" reads ${name}, which no gateway exports`).toBe(true);
        }
      }
    }
    expect(queries).toBeGreaterThan(10);
  });

  it("when it is imported, every panel reads the data source the dashboard's variable picks", () => {
    for (const { file, json, panels } of dashboards()) {
      expect(typeof json.uid, `${file} has a uid`).toBe("string");
      const variables = ((json.templating as JsonObject).list as JsonObject[]).filter((v) => v.type === "datasource").map((v) => `\${${String(v.name)}}`);
      for (const panel of panels.filter((p) => p.type !== "row")) expect(variables, `${file}: "${panel.title}"`).toContain(panel.datasource?.uid);
    }
  });

  it("when the metric parser reads a query, it skips functions, labels, ranges and groupings", () => {
    expect(metricNamesIn('histogram_quantile(0.99, sum by (route, le) (rate(gateway_http_request_duration_seconds_bucket{status=~"5.."}[$__rate_interval])))')).toEqual([
      "gateway_http_request_duration_seconds_bucket",
    ]);
    expect(metricNamesIn('sum(rate(a_total{result="hit"}[5m])) / sum(rate(b_total[5m])) and on (x) c')).toEqual(["a_total", "b_total", "c"]);
  });
});

describe("compose's observability profile", () => {
  const prometheus = services.prometheus ?? {};
  const grafana = services.grafana ?? {};

  it("when a user adds --profile observability, Prometheus and Grafana start; without it, neither does", () => {
    expect(prometheus.profiles).toEqual(["observability"]);
    expect(grafana.profiles).toEqual(["observability"]);
  });

  it("when Prometheus starts, it reads infra/prometheus/prometheus.yml and scrapes every gateway's /metrics on its port", () => {
    const config = mounts(prometheus).find((m) => m.container === "/etc/prometheus/prometheus.yml");
    expect(config && existsSync(config.host), "prometheus.yml mounted from the repository").toBe(true);
    const parsed = parse(readFileSync(config!.host, "utf8")) as { scrape_configs: Array<{ metrics_path?: string; static_configs: Array<{ targets: string[] }> }> };
    const targets = parsed.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets.map((t) => ({ target: t, path: c.metrics_path ?? "/metrics" }))));
    const gateways = Object.entries(services).filter(([, d]) => isObject(d.build) && (d.build.args as JsonObject | undefined)?.SERVICE === "gateway");
    expect(gateways.length).toBeGreaterThan(0);
    for (const [name, definition] of gateways) {
      expect(targets, `${name} scraped`).toContainEqual({ target: `${name}:${composeEnvironment(definition).PORT}`, path: "/metrics" });
    }
  });

  it("when Grafana starts, it provisions the Prometheus data source and loads every dashboard under infra/grafana/dashboards, with no password in the file", () => {
    const provisioning = mounts(grafana).find((m) => m.container === "/etc/grafana/provisioning");
    const dashboardsMount = mounts(grafana).find((m) => m.host === DASHBOARDS || m.host === `${DASHBOARDS}/`);
    expect(provisioning && existsSync(provisioning.host), "provisioning mounted").toBe(true);
    expect(dashboardsMount, "infra/grafana/dashboards mounted").toBeDefined();
    const providers = parse(readFileSync(join(provisioning!.host, "dashboards", "boxoffice.yml"), "utf8")) as { providers: Array<{ options: { path: string } }> };
    expect(providers.providers.map((p) => p.options.path)).toContain(dashboardsMount!.container);
    const datasources = parse(readFileSync(join(provisioning!.host, "datasources", "prometheus.yml"), "utf8")) as { datasources: Array<{ type: string; url: string }> };
    const prometheusPort = String((prometheus.ports as string[])[0]).split(":").pop();
    expect(datasources.datasources).toContainEqual(expect.objectContaining({ type: "prometheus", url: `http://prometheus:${prometheusPort}` }));
    const environment = (grafana.environment ?? {}) as Record<string, string>;
    expect(Object.keys(environment).filter((k) => /PASSWORD/i.test(k)), "no Grafana password committed").toEqual([]);
    const home = environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    expect(home?.startsWith(`${dashboardsMount!.container}/`) && existsSync(join(DASHBOARDS, home.slice(dashboardsMount!.container.length + 1))), `home dashboard ${home}`).toBe(true);
  });
});
