// `npm start`: the whole platform in one process (embedded mode). `--fresh` (or FRESH=true) starts
// from empty data; PORT, HOST, DATA_DIR and HOLD_TTL_SECONDS as in the HTTP reference.
import { startTracing } from "@boxoffice/runtime";
import { loadPlatformConfig } from "./config.ts";
import { DEMO_BUYER, DEMO_OPERATOR, DEMO_ORGANIZER } from "./demo-data.ts";
import { startEmbeddedPlatform } from "./embedded.ts";

const config = loadPlatformConfig(process.env, process.argv.slice(2));
// Every service runs in this process: one tracer provider for all (spans name their service in rpc.service).
const tracing = startTracing({ service: config.OTEL_SERVICE_NAME, endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });
const platform = await startEmbeddedPlatform(config);
const shown = platform.url.replace("127.0.0.1", "localhost");
console.log(
  [
    "",
    `boxoffice is running at ${shown}  (serving after ${(platform.startupMs / 1000).toFixed(1)} s, demo data after ${(platform.readyMs / 1000).toFixed(1)} s)`,
    `  data:        ${config.DATA_DIR}${config.FRESH ? " (fresh)" : ""}`,
    `  organiser:   ${DEMO_ORGANIZER.email} / ${DEMO_ORGANIZER.password}`,
    `  buyer:       ${DEMO_BUYER.email} / ${DEMO_BUYER.password}`,
    `  operator:    ${DEMO_OPERATOR.email} / ${DEMO_OPERATOR.password}  (the console: ${shown}/#/ops)`,
    `  API docs:    ${shown}/docs`,
    ...(tracing ? [`  traces:      OTLP to ${config.OTEL_EXPORTER_OTLP_ENDPOINT}`] : []),
    "",
  ].join("\n"),
);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping…`);
  const timer = setTimeout(() => process.exit(1), 15_000);
  timer.unref();
  await platform.stop();
  await tracing?.stop().catch((error: unknown) => console.error("flushing traces failed:", error));
  clearTimeout(timer);
};
const stopOrFail = (signal: string) =>
  stop(signal).catch((error: unknown) => {
    console.error("stop failed:", error);
    process.exit(1);
  });
process.once("SIGINT", () => stopOrFail("SIGINT"));
process.once("SIGTERM", () => stopOrFail("SIGTERM"));
