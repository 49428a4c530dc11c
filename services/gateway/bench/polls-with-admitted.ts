// `node services/gateway/bench/polls-with-admitted.ts [ADMITTED] [POLLS]`: CPU time of POLLS polls
// to one room of the embedded platform's memory store while ADMITTED buyers hold running admissions
// (each poll first ends admissions that ran out). Prints one line; figures go to BENCHMARKS.md.
import { createMemoryRoomStore } from "../src/store/memory-room-store.ts";
import type { RoomClock } from "../src/store/room-store.ts";

const ADMITTED = Number(process.argv[2] ?? 5000);
const POLLS = Number(process.argv[3] ?? 20_000);
const OPENS = Date.parse("2030-06-01T10:00:00.000Z");
const store = createMemoryRoomStore();
// A rate high enough that every joiner is admitted at once, up to ADMITTED at a time.
const clock = (now: number): RoomClock => ({ now, salesStartAt: OPENS, admissionTtlMs: 600_000, ratePerSecond: 100_000, maxConcurrent: ADMITTED });
for (let i = 0; i < ADMITTED; i++) await store.join("room", `admitted-${i}`, clock(OPENS + 1000 + i * 0.01), 0);
for (let i = 0; i < 1000; i++) await store.join("room", `waiting-${i}`, clock(OPENS + 2000), 0);
const started = process.cpuUsage();
for (let i = 0; i < POLLS; i++) await store.poll("room", `waiting-${i % 1000}`, clock(OPENS + 3000 + i * 10), 1_000_000);
const usage = process.cpuUsage(started);
console.log(`${POLLS} polls with ${ADMITTED} admissions running: ${((usage.user + usage.system) / 1000).toFixed(0)} ms CPU (${((usage.user + usage.system) / POLLS).toFixed(1)} µs per poll)`);
await store.close();
