// `node services/platform/bench/tracing-overhead.ts` (part of `npm run bench -w @boxoffice/platform`):
// what OpenTelemetry costs per purchase. One run starts the embedded platform (`npm start`) twice, each
// in a child process of its own (the API's tracer provider is per process): tracing off (no provider,
// as without OTEL_EXPORTER_OTLP_ENDPOINT) and on (the SDK recording every span, handed to an exporter
// that drops them, so the figure is the instrumentation's and the SDK's, not a network's). Each does
// the same sequential purchases (hold 1 seat, order it) and reports this process's CPU time per
// purchase (process.cpuUsage: the platform's and the HTTP client's, which is the same in both modes).
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { startTracing } from "@boxoffice/runtime";
import { percentile, writeBenchmarkSection } from "@boxoffice/testkit";
import type { ExportResult } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";
import { loadPlatformConfig } from "../src/config.ts";
import { startEmbeddedPlatform } from "../src/embedded.ts";

const PURCHASES = Number(process.env.BENCH_TRACING_PURCHASES ?? 200);
const WARMUP = 20;
const CARD = { cardNumber: "4242424242424242", expMonth: 12, expYear: 2030, cvc: "123" };

interface ModeResult {
  mode: "off" | "on";
  purchases: number;
  cpuMsPerPurchase: number;
  p50Ms: number;
  p99Ms: number;
  spansPerPurchase: number;
}

async function runMode(mode: "off" | "on"): Promise<ModeResult> {
  let spans = 0;
  const dropping: SpanExporter = {
    export(batch: ReadableSpan[], done: (result: ExportResult) => void) {
      spans += batch.length;
      done({ code: 0 });
    },
    shutdown: async () => {},
  };
  const tracing = mode === "on" ? startTracing({ service: "boxoffice", exporter: dropping }) : undefined;
  const dataDir = mkdtempSync(join(tmpdir(), `boxoffice-tracing-bench-${mode}-`));
  const seats = PURCHASES + WARMUP;
  const platform = await startEmbeddedPlatform(loadPlatformConfig({ PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir, LOG_LEVEL: "error" }), {
    env: {},
    demoEvents: [{ title: "Bench Hall", venue: "Bench", daysFromNow: 5, sections: [{ name: "Floor", rows: Math.ceil(seats / 20), seatsPerRow: 20, priceCents: 2500 }] }],
  });
  try {
    const url = platform.url;
    let eventId: string | undefined;
    for (const deadline = Date.now() + 60_000; !eventId && Date.now() < deadline; ) {
      const list = (await (await fetch(`${url}/api/events?limit=100`)).json()) as { events: Array<{ id: string; title: string; available: number }> };
      eventId = list.events.find((e) => e.title === "Bench Hall" && e.available >= seats)?.id;
      if (!eventId) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    if (!eventId) throw new Error("the bench event never went on sale");
    // At most 8 seats per buyer per event: enough buyers, signed up and in before anything is measured.
    const cookies: string[] = [];
    for (let b = 0; b < Math.ceil(seats / 8); b++) {
      const account = { email: `bench-${mode}-${b}-${randomUUID()}@example.test`, password: "long-enough-password", displayName: `Bench ${b}` };
      const signUp = await fetch(`${url}/api/users`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(account) });
      if (signUp.status !== 201) throw new Error(`sign-up answered ${signUp.status}`);
      const session = await fetch(`${url}/api/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(account) });
      if (session.status !== 200) throw new Error(`sign-in answered ${session.status}`);
      cookies.push(session.headers.getSetCookie().map((c) => c.split(";")[0]).join("; "));
    }
    let bought = 0;
    const post = async (cookie: string, path: string, body: unknown, headers: Record<string, string> = {}) => {
      const response = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", cookie, ...headers }, body: JSON.stringify(body) });
      const json = (await response.json()) as Record<string, unknown>;
      if (response.status !== 201) throw new Error(`${path} answered ${response.status}: ${JSON.stringify(json)}`);
      return json;
    };
    const purchase = async () => {
      const cookie = cookies[Math.floor(bought++ / 8)];
      const hold = await post(cookie, `/api/events/${eventId}/holds`, { quantity: 1 });
      await post(cookie, "/api/orders", { holdId: (hold.hold as { id: string }).id, payment: CARD }, { "idempotency-key": randomUUID() });
    };
    for (let i = 0; i < WARMUP; i++) await purchase();
    const spansBefore = spans;
    const times: number[] = [];
    const cpuBefore = process.cpuUsage();
    for (let i = 0; i < PURCHASES; i++) {
      const started = performance.now();
      await purchase();
      times.push(performance.now() - started);
    }
    const cpu = process.cpuUsage(cpuBefore);
    return {
      mode,
      purchases: PURCHASES,
      cpuMsPerPurchase: (cpu.user + cpu.system) / 1000 / PURCHASES,
      p50Ms: percentile(times, 50),
      p99Ms: percentile(times, 99),
      spansPerPurchase: (spans - spansBefore) / PURCHASES,
    };
  } finally {
    await platform.stop();
    await tracing?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const child = process.argv[2];
if (child === "off" || child === "on") {
  const result = await runMode(child);
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
} else {
  const load = loadavg()[0];
  const results: ModeResult[] = [];
  for (const mode of ["off", "on"] as const) {
    const run = spawnSync(process.execPath, [import.meta.filename, mode], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], env: process.env });
    const line = run.stdout.split("\n").find((l) => l.startsWith("RESULT "));
    if (run.status !== 0 || !line) throw new Error(`the ${mode} run failed (exit ${run.status}): ${run.stdout}`);
    results.push(JSON.parse(line.slice("RESULT ".length)) as ModeResult);
  }
  const [off, on] = results;
  const rows = results.map(
    (r) => `| ${r.mode === "off" ? "off (no provider: the bus makes no spans)" : "on (SDK records every span; exporter drops them)"} | ${r.purchases} | ${r.cpuMsPerPurchase.toFixed(2)} | ${r.p50Ms.toFixed(1)} | ${r.p99Ms.toFixed(1)} | ${r.spansPerPurchase.toFixed(1)} |`,
  );
  const delta = on.cpuMsPerPurchase - off.cpuMsPerPurchase;
  writeBenchmarkSection("tracing-overhead", "Tracing: CPU per purchase with OpenTelemetry off and on", "node services/platform/bench/tracing-overhead.ts", `
One-minute load average when the run started: ${load.toFixed(1)} on ${cpus().length} cores (other work shares them; figures move with it).

The embedded platform (every service, PGlite, the in-memory bus in one process), started once per mode in its own process, ${WARMUP} warm-up purchases, then ${PURCHASES} sequential purchases, 8 per buyer (POST …/holds, POST /api/orders; the buyers signed up and in before). CPU is the whole process's (platform and HTTP client) divided by purchases.

| tracing | purchases | CPU per purchase (ms) | p50 (ms) | p99 (ms) | spans per purchase |
|---|---:|---:|---:|---:|---:|
${rows.join("\n")}

On costs ${delta.toFixed(2)} ms of CPU per purchase more than off (${((delta / off.cpuMsPerPurchase) * 100).toFixed(1)} %), ${on.spansPerPurchase > 0 ? `${((delta * 1000) / on.spansPerPurchase).toFixed(1)} µs per span` : "no spans recorded"}; exporting over OTLP adds the batch exporter's encoding and a POST per batch on top, not measured here. One run per mode, not repeated, on a machine this loaded: re-measure on a quiet one before quoting the per-span figure.
`);
  console.log(rows.join("\n"));
}
