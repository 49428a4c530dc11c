import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { startPrivateRedis, uniqueName } from "@boxoffice/testkit";
import { createChannelLayer, createRpcClient } from "../src/index.ts";
import { BENCH_PAYLOAD, benchEchoV1 } from "./rpc-method.ts";
import { Session } from "node:inspector/promises";
import { writeFileSync } from "node:fs";
const phase = process.env.PHASE ?? "loaded";
const redis = await startPrivateRedis();
const ns = uniqueName("prof");
const child = spawn(process.execPath, ["--cpu-prof", "--cpu-prof-dir=/tmp/wt16prof", `--cpu-prof-name=server-${phase}.cpuprofile`, join(import.meta.dirname, "rpc-child.ts"), "boxoffice", redis.url, ns], { stdio: ["pipe", "pipe", "inherit"] });
const lines = createInterface({ input: child.stdout! });
await new Promise<void>((r) => lines.on("line", (l) => l === "ready" && r()));
const layer = createChannelLayer(redis.url, { prefix: ns, capacity: 10_000 });
const client = createRpcClient({ layer, service: "bench-client" });
for (let i = 0; i < 2000; i++) await client.call(benchEchoV1, BENCH_PAYLOAD);
const session = new Session(); session.connect(); await session.post("Profiler.enable"); await session.post("Profiler.start");
const t0 = performance.now(); let n = 0;
if (phase === "seq") { for (let i = 0; i < 5000; i++) { await client.call(benchEchoV1, BENCH_PAYLOAD); n++; } }
else { const end = t0 + 5000; await Promise.all(Array.from({ length: 64 }, async () => { while (performance.now() < end) { await client.call(benchEchoV1, BENCH_PAYLOAD); n++; } })); }
const s = (performance.now() - t0) / 1000;
const { profile } = await session.post("Profiler.stop");
writeFileSync(`/tmp/wt16prof/client-${phase}.cpuprofile`, JSON.stringify(profile));
console.log(phase, Math.round(n / s), "calls/s");
await client.close(); await layer.close();
const exited = new Promise((r) => child.once("exit", r)); child.kill("SIGTERM"); await exited; await redis.stop();
