// `npm run bench -w @boxoffice/platform`: what the operator console costs to read. The embedded
// platform (`npm start`) runs in this process; after every process has reported, the demo operator
// reads GET /api/ops/overview sequentially, as the #/ops page does every 2 s. Everything on 127.0.0.1.
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { percentile, writeBenchmarkSection } from "@boxoffice/testkit";
import { loadPlatformConfig } from "../src/config.ts";
import { DEMO_OPERATOR } from "../src/demo-data.ts";
import { startEmbeddedPlatform } from "../src/embedded.ts";

const WARMUP = 20;
const READS = Number(process.env.BENCH_OPS_READS ?? 500);

const load = loadavg()[0];
const dataDir = mkdtempSync(join(tmpdir(), "boxoffice-ops-bench-"));
const platform = await startEmbeddedPlatform(loadPlatformConfig({ PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir, LOG_LEVEL: "error" }), { env: {}, demoEvents: [] });
try {
  // Two report intervals: every process has reported at least once.
  await new Promise((resolve) => setTimeout(resolve, 4500));
  const session = await fetch(`${platform.url}/api/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(DEMO_OPERATOR) });
  if (session.status !== 200) throw new Error(`operator sign-in answered ${session.status}`);
  const cookie = session.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  const times: number[] = [];
  let bytes = 0;
  let instances = 0;
  for (let i = 0; i < WARMUP + READS; i++) {
    const started = performance.now();
    const response = await fetch(`${platform.url}/api/ops/overview`, { headers: { cookie } });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`overview answered ${response.status}: ${text}`);
    if (i < WARMUP) continue;
    times.push(performance.now() - started);
    bytes = text.length;
    instances = (JSON.parse(text) as { overview: { instances: unknown[] } }).overview.instances.length;
  }
  const row = `| embedded (\`npm start\`), ${instances} instances reporting (each service and the gateway, in one process) | ${READS} | ${percentile(times, 50).toFixed(2)} | ${percentile(times, 99).toFixed(2)} | ${bytes.toLocaleString("en")} |`;
  writeBenchmarkSection("ops-overview", "Operator console: reading GET /api/ops/overview", "npm run bench -w @boxoffice/platform", `
One-minute load average when the run started: ${load.toFixed(1)} (other work shares these cores; figures move with it).

Sequential reads by the demo operator after ${WARMUP} warm-up reads; each read assembles the latest reports of every process (kept in the gateway's memory) and the occupied waiting rooms. No figure here touches a purchase: the reports are a timer's \`groupSend\` every 2 s per process, and an RPC server only counts in memory.

| setup | reads | p50 (ms) | p99 (ms) | response (bytes) |
|---|---:|---:|---:|---:|
${row}
`);
} finally {
  await platform.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
