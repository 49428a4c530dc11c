// `node services/gateway/bench/prequeue-joins.ts [N]`: CPU time of N joins to one event's room in
// the embedded platform's memory store, before opening (the pre-queue: a random order each) and after
// it (arrival order), measured with process.cpuUsage. Prints one line; figures go to BENCHMARKS.md.
import { createMemoryRoomStore } from "../src/store/memory-room-store.ts";
import type { RoomClock } from "../src/store/room-store.ts";

const N = Number(process.argv[2] ?? 20_000);
const OPENS = Date.parse("2030-06-01T10:00:00.000Z");
const store = createMemoryRoomStore();
const clock = (now: number): RoomClock => ({ now, salesStartAt: OPENS, admissionTtlMs: 600_000, ratePerSecond: 20, maxConcurrent: 5000 });
const cpuMs = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;

const preStarted = process.cpuUsage();
for (let i = 0; i < N; i++) await store.join("pre", `buyer-${i}`, clock(OPENS - 10_000 + i * 0.1), Math.random());
const pre = cpuMs(process.cpuUsage(preStarted));
// The first position asked after opening ranks the whole pre-queue once.
const firstStarted = process.cpuUsage();
await store.poll("pre", "buyer-0", clock(OPENS + 60_000), 100);
const first = cpuMs(process.cpuUsage(firstStarted));
const postStarted = process.cpuUsage();
for (let i = 0; i < N; i++) await store.join("post", `buyer-${i}`, clock(OPENS + 1000 + i * 0.1), 0);
const post = cpuMs(process.cpuUsage(postStarted));
console.log(`${N} pre-queue joins: ${pre.toFixed(0)} ms CPU; first poll after opening: ${first.toFixed(1)} ms; ${N} joins after opening: ${post.toFixed(0)} ms CPU`);
await store.close();
