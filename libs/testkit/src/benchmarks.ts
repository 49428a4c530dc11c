// Benchmarks write their results into BENCHMARKS.md, each in its own marked section, so that every
// project's `bench` script can rewrite its part without touching the others.
import { cpus, totalmem } from "node:os";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const repoRoot = join(import.meta.dirname, "..", "..", "..");
export const BENCHMARKS_FILE = join(repoRoot, "BENCHMARKS.md");

/** One line naming the machine and runtime the figures come from. */
export function machineDescription(): string {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  return `${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}

/**
 * Replaces (or appends) the section `name` of BENCHMARKS.md with `markdown`. `BENCH_WRITE=0` leaves
 * the file alone (a diagnostic or scaled-down run must not replace a section's figures).
 */
export function writeBenchmarkSection(name: string, title: string, command: string, markdown: string): void {
  if (process.env.BENCH_WRITE === "0") {
    console.log(`BENCH_WRITE=0: section "${title}" not written to BENCHMARKS.md`);
    return;
  }
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const body = [
    start,
    `## ${title}`,
    "",
    `Machine: ${machineDescription()}  `,
    `Command: \`${command}\``,
    "",
    markdown.trim(),
    end,
  ].join("\n");
  const header = "# Benchmarks\n\nEvery figure below was measured by the command named in its section, in one run, on the machine named there. `npm run bench` runs them all.\n";
  let text = existsSync(BENCHMARKS_FILE) ? readFileSync(BENCHMARKS_FILE, "utf8") : header;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from >= 0 && to > from) text = text.slice(0, from) + body + text.slice(to + end.length);
  else text = `${text.trimEnd()}\n\n${body}\n`;
  writeFileSync(BENCHMARKS_FILE, text);
  console.log(`\nwrote section "${title}" to BENCHMARKS.md`);
}

/** p-th percentile (0–100) of a list of numbers. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}
