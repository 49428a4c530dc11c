// `npm run firehose -- dead-letters <stream> [--limit n]` lists a stream's dead letters;
// `npm run firehose -- replay <stream> [position…]` appends them (all, or those) to their stream
// again; `npm run firehose -- stats [stream…] [--prom]` prints length, dead letters and per group
// pending and lag (Prometheus text with --prom). FIREHOSE_URL (a redis:// URL) and BUS_PREFIX say
// which firehose, as for the services.
import { parseArgs } from "node:util";
import { createFirehoseAdmin, firehoseStatsToPrometheus } from "@boxoffice/bus";

const STREAMS = ["events", "inventory", "payments", "users"];
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { limit: { type: "string" }, prom: { type: "boolean" }, help: { type: "boolean", short: "h" } },
});
const usage = [
  "usage: npm run firehose -- dead-letters <stream> [--limit n]",
  "       npm run firehose -- replay <stream> [position…]",
  "       npm run firehose -- stats [stream…] [--prom]",
  "FIREHOSE_URL (redis://…, default redis://127.0.0.1:6379) and BUS_PREFIX (default boxoffice) pick the firehose.",
].join("\n");

const [command, stream, ...rest] = positionals;
if (values.help || !command || (command !== "stats" && !stream)) {
  console.log(usage);
  process.exit(values.help ? 0 : 1);
}
const admin = createFirehoseAdmin({ url: process.env.FIREHOSE_URL ?? "redis://127.0.0.1:6379", prefix: process.env.BUS_PREFIX ?? "boxoffice" });
try {
  if (command === "dead-letters") {
    const letters = await admin.deadLetters(stream, { limit: values.limit ? Number(values.limit) : 1000 });
    for (const d of letters) {
      console.log(`${d.position}  ${d.event.type}  id=${d.event.id}  key=${d.event.key}  group=${d.info?.group ?? "?"}  attempts=${d.info?.attempts ?? "?"}  ${d.info?.reason ?? ""}`);
    }
    console.log(`${letters.length} dead letter(s) in ${stream}.dead-letter`);
  } else if (command === "replay") {
    const replayed = await admin.replay(stream, rest);
    console.log(`replayed ${replayed} dead letter(s) into ${stream}`);
  } else if (command === "stats") {
    const stats = await admin.stats(stream ? [stream, ...rest] : STREAMS);
    if (values.prom) process.stdout.write(firehoseStatsToPrometheus(stats));
    else {
      for (const s of stats) {
        console.log(`${s.stream}: ${s.length} entries, ${s.deadLetters} dead letter(s)`);
        for (const g of s.groups) console.log(`  group ${g.group}: ${g.consumers} consumer(s), ${g.pending} pending, lag ${g.lag ?? "unknown"}`);
      }
    }
  } else {
    console.error(usage);
    process.exitCode = 1;
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
} finally {
  admin.close();
}
