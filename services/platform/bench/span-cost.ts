// `node services/platform/bench/span-cost.ts`: the SDK's own CPU per span, apart from any purchase —
// startTracing with an exporter that drops spans, then SQL-like client spans (three attributes, made
// current once, ended) in rounds of 50,000; the first round includes the JIT warming up. Prints only:
// the figure goes beside "Tracing" in BENCHMARKS.md, to tell span recording from the rest of the
// on/off difference there.
import { startTracing } from "@boxoffice/runtime";
import { context, SpanKind, trace } from "@opentelemetry/api";
import type { ExportResult } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";

const PER_ROUND = 50_000;
let exported = 0;
const dropping: SpanExporter = {
  export(batch: ReadableSpan[], done: (result: ExportResult) => void) {
    exported += batch.length;
    done({ code: 0 });
  },
  shutdown: async () => {},
};
const tracing = startTracing({ service: "span-cost", exporter: dropping });
const tracer = trace.getTracer("span-cost");
for (let round = 0; round < 3; round++) {
  const before = process.cpuUsage();
  for (let i = 0; i < PER_ROUND; i++) {
    const span = tracer.startSpan("SELECT shard0", { kind: SpanKind.CLIENT });
    span.setAttributes({ "db.system.name": "postgresql", "db.namespace": "shard0", "db.query.text": "SELECT * FROM payments.payments WHERE id = $1" });
    await context.with(trace.setSpan(context.active(), span), async () => {});
    span.end();
  }
  const cpu = process.cpuUsage(before);
  console.log(`round ${round + 1}: ${((cpu.user + cpu.system) / PER_ROUND).toFixed(1)} µs CPU per span (${exported} exported)`);
}
await tracing?.stop();
