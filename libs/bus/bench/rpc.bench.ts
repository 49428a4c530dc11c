// RPC benchmark: this RPC against Moleculer (Redis transporter) and a bare ioredis RPUSH/BLMPOP
// request/reply (the floor, pipelined on both sides), each with its server in a second process,
// all on a private redis-server started here (so its CPU time is this benchmark's alone).
// Run: npm run bench -w @boxoffice/bus -- rpc  (BENCH_ROUNDS=n, default 3; BENCH_WRITE=0 skips BENCHMARKS.md;
// BENCH_MODES=boxoffice,moleculer runs some systems only and writes nothing)
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadavg } from "node:os";
import { createInterface, type Interface } from "node:readline";
import { percentile, startPrivateRedis, uniqueName, writeBenchmarkSection } from "@boxoffice/testkit";
import { Redis } from "ioredis";
import moleculer from "moleculer";
import { createChannelLayer, createRpcClient } from "../src/index.ts";
import { BENCH_ENCRYPTION_KEYS, BENCH_PAYLOAD, benchEchoV1 } from "./rpc-method.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SEQUENTIAL_CALLS = Number(process.env.BENCH_SEQUENTIAL ?? 3000);
const WARMUP_CALLS = 1000;
const IN_FLIGHT = 64;
const THROUGHPUT_SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ALL_MODES = ["bare", "boxoffice", "boxoffice-encrypted", "moleculer"] as const;
type Mode = (typeof ALL_MODES)[number];
/** BENCH_MODES=boxoffice,moleculer runs only those (for profiling; BENCHMARKS.md needs all four). */
const MODES: readonly Mode[] = process.env.BENCH_MODES ? ALL_MODES.filter((m) => process.env.BENCH_MODES!.split(",").includes(m)) : ALL_MODES;

interface Driver {
  call(): Promise<unknown>;
  close(): Promise<void>;
}

/** CPU µs per call of each process, and what Redis ran, over one phase. */
interface Costs {
  clientUs: number;
  serverUs: number;
  redisUs: number;
  /** read + write system calls per call (/proc/<pid>/io syscr + syscw): socket writes are a large share of the CPU. */
  clientSyscalls: number;
  serverSyscalls: number;
  redisSyscalls: number;
  /** µs Redis spent executing commands per call (INFO commandstats; the rest of its CPU is sockets and its loop). */
  commandUs: number;
  /** Redis commands per call by name (commands run inside a script are listed too). */
  commands: Map<string, number>;
}

interface Round {
  p50: number;
  p99: number;
  throughput: number;
  sequential: Costs;
  loaded: Costs;
}

const redis = await startPrivateRedis();
const url = redis.url;
const namespace = uniqueName("bench_rpc");
const admin = new Redis(url);
const loads: number[] = [loadavg()[0]];
const sampler = setInterval(() => loads.push(loadavg()[0]), 1000);

interface Server {
  child: ChildProcess;
  lines: Interface;
}

async function startServer(mode: Mode): Promise<Server> {
  const child = spawn(process.execPath, [join(import.meta.dirname, "rpc-child.ts"), mode, url, namespace], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`${mode} server exited with ${code}`)));
    lines.on("line", (line) => line === "ready" && resolve());
  });
  return { child, lines };
}

/** The server process's CPU time so far (µs). */
function serverCpu(server: Server): Promise<number> {
  return new Promise((resolve) => {
    const onLine = (line: string) => {
      if (!line.startsWith("cpu ")) return;
      server.lines.off("line", onLine);
      resolve(Number(line.slice(4)));
    };
    server.lines.on("line", onLine);
    server.child.stdin!.write("cpu\n");
  });
}

async function stopServer(server: Server): Promise<void> {
  // Drop the start-up "exited early" rejection before waiting for the exit we ask for.
  server.child.removeAllListeners("exit");
  const exited = new Promise((resolve) => server.child.once("exit", resolve));
  server.child.kill("SIGTERM");
  await exited;
}

function boxofficeDriver(encrypted: boolean) {
  return async (): Promise<Driver> => {
    const layer = createChannelLayer(url, { prefix: namespace, capacity: 10_000, symmetricEncryptionKeys: encrypted ? BENCH_ENCRYPTION_KEYS : [] });
    const client = createRpcClient({ layer, service: "bench-client" });
    return {
      call: () => client.call(benchEchoV1, BENCH_PAYLOAD),
      async close() {
        await client.close();
        await layer.close();
      },
    };
  };
}

async function moleculerDriver(): Promise<Driver> {
  const broker = new moleculer.ServiceBroker({ nodeID: `client-${process.pid}`, namespace, transporter: new moleculer.Transporters.Redis(url), serializer: "JSON", logger: false });
  await broker.start();
  await broker.waitForServices(["bench"], 10_000);
  return { call: () => broker.call("bench.echo", BENCH_PAYLOAD), close: () => broker.stop() };
}

async function bareDriver(): Promise<Driver> {
  const pusher = new Redis(url);
  const blocking = new Redis(url);
  const replyTo = `${namespace}:reply:${process.pid}`;
  const pending = new Map<number, (body: unknown) => void>();
  let next = 0;
  let running = true;
  void (async () => {
    while (running) {
      // Every reply queued so far in one pop, as the layer's reply loop does.
      const popped = (await blocking.blmpop(1, 1, replyTo, "LEFT", "COUNT", 64).catch(() => null)) as [string, string[]] | null;
      if (!popped) continue;
      for (const raw of popped[1]) {
        const reply = JSON.parse(raw) as { id: number; body: unknown };
        pending.get(reply.id)?.(reply.body);
        pending.delete(reply.id);
      }
    }
  })();
  return {
    call() {
      const id = ++next;
      return new Promise((resolve, reject) => {
        pending.set(id, resolve);
        pusher.rpush(`${namespace}:req`, JSON.stringify({ id, replyTo, body: BENCH_PAYLOAD })).catch(reject);
      });
    },
    async close() {
      running = false;
      pusher.disconnect();
      blocking.disconnect();
    },
  };
}

const drivers: Record<Mode, () => Promise<Driver>> = {
  bare: bareDriver,
  boxoffice: boxofficeDriver(false),
  "boxoffice-encrypted": boxofficeDriver(true),
  moleculer: moleculerDriver,
};

/** Calls and µs inside each command (INFO commandstats; a script's µs include the commands it runs). */
async function commandCounts(): Promise<Map<string, { calls: number; usec: number }>> {
  const text = await admin.info("commandstats");
  const counts = new Map<string, { calls: number; usec: number }>();
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) counts.set(m[1], { calls: Number(m[2]), usec: Number(m[3]) });
  return counts;
}

/** read + write system calls a process has made so far (Linux /proc; NaN elsewhere). */
function syscalls(pid: number | "self"): number {
  try {
    const io = readFileSync(`/proc/${pid}/io`, "utf8");
    return Number(/^syscr: (\d+)/m.exec(io)![1]) + Number(/^syscw: (\d+)/m.exec(io)![1]);
  } catch {
    return NaN;
  }
}

/** Runs `phase` and charges each process's CPU and Redis's commands to the calls it completed. */
async function costed(server: Server, phase: () => Promise<number>): Promise<Costs> {
  await admin.config("RESETSTAT");
  const [redisBefore, serverBefore] = [await redis.cpuMicros(), await serverCpu(server)];
  const sys = () => [syscalls("self"), syscalls(server.child.pid!), syscalls(redis.pid!)];
  const sysBefore = sys();
  const clientBefore = process.cpuUsage();
  const calls = await phase();
  const client = process.cpuUsage(clientBefore);
  const sysAfter = sys();
  const [redisAfter, serverAfter] = [await redis.cpuMicros(), await serverCpu(server)];
  const commands = new Map<string, number>();
  let commandUs = 0;
  const stats = [...(await commandCounts())].filter(([name]) => !["info", "config"].includes(name));
  const scripted = stats.some(([name]) => name === "evalsha" || name === "eval");
  for (const [name, { calls: count, usec }] of stats) {
    commands.set(name, count / calls);
    // Commands a script runs are inside the script's own µs: count the top-level ones only.
    if (!scripted || !["rpush", "pexpire", "llen", "lindex", "lpop"].includes(name)) commandUs += usec / calls;
  }
  return {
    clientUs: (client.user + client.system) / calls,
    serverUs: (serverAfter - serverBefore) / calls,
    redisUs: (redisAfter - redisBefore) / calls,
    clientSyscalls: (sysAfter[0] - sysBefore[0]) / calls,
    serverSyscalls: (sysAfter[1] - sysBefore[1]) / calls,
    redisSyscalls: (sysAfter[2] - sysBefore[2]) / calls,
    commandUs,
    commands,
  };
}

async function measure(mode: Mode): Promise<Round> {
  const server = await startServer(mode);
  const driver = await drivers[mode]();
  try {
    for (let i = 0; i < WARMUP_CALLS; i++) await driver.call();
    const latencies: number[] = [];
    const sequential = await costed(server, async () => {
      for (let i = 0; i < SEQUENTIAL_CALLS; i++) {
        const start = performance.now();
        await driver.call();
        latencies.push(performance.now() - start);
      }
      return SEQUENTIAL_CALLS;
    });
    let completed = 0;
    let seconds = 0;
    const loaded = await costed(server, async () => {
      const started = performance.now();
      const end = started + THROUGHPUT_SECONDS * 1000;
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (performance.now() < end) {
            await driver.call();
            completed++;
          }
        }),
      );
      seconds = (performance.now() - started) / 1000;
      return completed;
    });
    return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), throughput: completed / seconds, sequential, loaded };
  } finally {
    await driver.close();
    await stopServer(server);
  }
}

const median = (values: number[]) => percentile(values, 50);
const fmtCommands = (c: Map<string, number>) =>
  [...c]
    .filter(([, n]) => n >= 0.005)
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${name} ${n < 0.1 ? n.toFixed(3) : n.toFixed(2)}`)
    .join(", ");

const sc = (c: Costs) => `${c.clientSyscalls.toFixed(2)}/${c.serverSyscalls.toFixed(2)}/${c.redisSyscalls.toFixed(2)}`;
const rounds: Record<Mode, Round[]> = { bare: [], boxoffice: [], "boxoffice-encrypted": [], moleculer: [] };
try {
  // Rounds alternate the systems (order rotated each round), so load from other work on a shared
  // machine falls on all of them alike; each figure below is the median over the rounds.
  for (let r = 0; r < ROUNDS; r++) {
    const order = [...MODES.slice(r % MODES.length), ...MODES.slice(0, r % MODES.length)];
    for (const mode of order) {
      const round = await measure(mode);
      rounds[mode].push(round);
      console.log(
        `round ${r + 1} ${mode}: p50 ${round.p50.toFixed(3)} ms, p99 ${round.p99.toFixed(3)} ms, ${Math.round(round.throughput)} calls/s; ` +
          `CPU µs/call at 64 in flight: client ${round.loaded.clientUs.toFixed(1)}, server ${round.loaded.serverUs.toFixed(1)}, Redis ${round.loaded.redisUs.toFixed(1)}; ` +
          `at 1 in flight: client ${round.sequential.clientUs.toFixed(1)}, server ${round.sequential.serverUs.toFixed(1)}, Redis ${round.sequential.redisUs.toFixed(1)}; ` +
          `syscalls/call client/server/Redis loaded ${sc(round.loaded)}, sequential ${sc(round.sequential)}; ` +
          `Redis µs in commands/call loaded ${round.loaded.commandUs.toFixed(2)}, sequential ${round.sequential.commandUs.toFixed(2)}; ` +
          `commands/call loaded: ${fmtCommands(round.loaded.commands)}; sequential: ${fmtCommands(round.sequential.commands)}`,
      );
    }
  }
} finally {
  clearInterval(sampler);
  admin.disconnect();
  await redis.stop();
}

interface PhaseSummary {
  client: number;
  server: number;
  redis: number;
  clientSyscalls: number;
  serverSyscalls: number;
  redisSyscalls: number;
  commandUs: number;
}

interface Summary {
  p50: number;
  p99: number;
  throughput: number;
  seq: PhaseSummary;
  loaded: PhaseSummary;
  commandsLoaded: string;
  commandsSequential: string;
}

function summarise(mode: Mode): Summary {
  const rs = rounds[mode];
  const last = rs.at(-1)!;
  const costs = (pick: (r: Round) => Costs) => ({
    client: median(rs.map((r) => pick(r).clientUs)),
    server: median(rs.map((r) => pick(r).serverUs)),
    redis: median(rs.map((r) => pick(r).redisUs)),
    clientSyscalls: median(rs.map((r) => pick(r).clientSyscalls)),
    serverSyscalls: median(rs.map((r) => pick(r).serverSyscalls)),
    redisSyscalls: median(rs.map((r) => pick(r).redisSyscalls)),
    commandUs: median(rs.map((r) => pick(r).commandUs)),
  });
  return {
    p50: median(rs.map((r) => r.p50)),
    p99: median(rs.map((r) => r.p99)),
    throughput: median(rs.map((r) => r.throughput)),
    seq: costs((r) => r.sequential),
    loaded: costs((r) => r.loaded),
    commandsLoaded: fmtCommands(last.loaded.commands),
    commandsSequential: fmtCommands(last.sequential.commands),
  };
}

if (MODES.length < ALL_MODES.length) process.exit(0);
const s = Object.fromEntries(MODES.map((m) => [m, summarise(m)])) as Record<Mode, Summary>;
const ours = s.boxoffice;
const vsMoleculer = ours.throughput / s.moleculer.throughput;
const vsFloor = ours.throughput / s.bare.throughput;
const labels: Record<Mode, string> = {
  boxoffice: "boxoffice RPC (Redis channel layer, zod, msgpack), encryption off",
  "boxoffice-encrypted": "boxoffice RPC, encryption on (AES-256-GCM, as distributed)",
  moleculer: "Moleculer 0.15.2 (Redis transporter, JSON serializer)",
  bare: "bare ioredis RPUSH + BLMPOP, batch ≤ 64 (floor)",
};
const f1 = (n: number) => n.toFixed(1);
const row = (m: Mode) =>
  `| ${labels[m]} | ${s[m].p50.toFixed(3)} | ${s[m].p99.toFixed(3)} | ${Math.round(s[m].throughput).toLocaleString("en-US")} | ${f1(s[m].loaded.redis)} | ${f1(s[m].loaded.client)} / ${f1(s[m].loaded.server)} | ${f1(s[m].seq.redis)} | ${f1(s[m].seq.client)} / ${f1(s[m].seq.server)} |`;
const commandRow = (m: Mode) => `| ${labels[m]} | ${s[m].commandsLoaded} | ${s[m].commandsSequential} |`;
const f2 = (n: number) => n.toFixed(2);
const syscallRow = (m: Mode) =>
  `| ${labels[m]} | ${f2(s[m].loaded.clientSyscalls)} / ${f2(s[m].loaded.serverSyscalls)} / ${f2(s[m].loaded.redisSyscalls)} | ${f2(s[m].seq.clientSyscalls)} / ${f2(s[m].seq.serverSyscalls)} / ${f2(s[m].seq.redisSyscalls)} | ${f2(s[m].loaded.commandUs)} | ${f2(s[m].seq.commandUs)} |`;
const enc = s["boxoffice-encrypted"];
const mol = s.moleculer;
const verdict = (ok: boolean) => (ok ? "holds" : "**does not hold**");
const load = `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`;
const markdown = [
  `One-minute load average during the run: ${load} (other engineers' tests share these 2 cores; compare rows of one run only).`,
  "",
  `A private \`redis-server\` (7, loopback, no persistence) started by the bench, so its CPU time is this benchmark's alone; each server in a second process, the client in the bench's process. ${ROUNDS} rounds, the systems alternating (order rotated each round); each figure is the median over the rounds. Per round and system: ${WARMUP_CALLS} warm-up calls, ${SEQUENTIAL_CALLS.toLocaleString("en-US")} sequential calls (p50/p99), then ${IN_FLIGHT} calls in flight for ${THROUGHPUT_SECONDS} s. Payload: a three-field object echoed back (validated by zod on both sides for boxoffice). CPU per call is user + system time of each process over the phase divided by the calls it completed (client and server: \`process.cpuUsage()\`; Redis: \`INFO cpu\` of the private server).`,
  "",
  "| system | sequential p50 (ms) | sequential p99 (ms) | calls/s, 64 in flight | Redis CPU per call, 64 in flight (µs) | client / server CPU per call, 64 in flight (µs) | Redis CPU per call, 1 in flight (µs) | client / server CPU per call, 1 in flight (µs) |",
  "|---|---:|---:|---:|---:|---:|---:|---:|",
  ...MODES.filter((m) => m !== "bare").map(row),
  row("bare"),
  "",
  "Redis commands per call (`INFO commandstats`; commands a script runs are counted under their own names as well as the script's):",
  "",
  "| system | 64 in flight | 1 in flight |",
  "|---|---|---|",
  ...MODES.map(commandRow),
  "",
  "System calls (read + write, `/proc/<pid>/io`) per call, and µs Redis spent executing commands per call (`INFO commandstats`; the rest of Redis's CPU is its sockets and event loop):",
  "",
  "| system | syscalls client / server / Redis, 64 in flight | same, 1 in flight | Redis µs in commands, 64 in flight | same, 1 in flight |",
  "|---|---:|---:|---:|---:|",
  ...MODES.map(syscallRow),
  "",
  `- Throughput vs Moleculer (encryption off): ${vsMoleculer.toFixed(2)}× (target ≥ 2×: ${verdict(vsMoleculer >= 2)}); encryption on: ${(s["boxoffice-encrypted"].throughput / s.moleculer.throughput).toFixed(2)}×.`,
  `- Sequential p50: ${ours.p50.toFixed(3)} ms vs Moleculer ${s.moleculer.p50.toFixed(3)} ms (target no higher: ${verdict(ours.p50 <= s.moleculer.p50)}).`,
  `- Redis CPU per call at 64 in flight: ${f1(ours.loaded.redis)} µs vs Moleculer ${f1(s.moleculer.loaded.redis)} µs (target no higher: ${verdict(ours.loaded.redis <= s.moleculer.loaded.redis)}).`,
  `- Throughput vs the bare floor: ${(vsFloor * 100).toFixed(0)}%.`,
  "",
  "**Where a call's cost goes, and what is left.** At 64 in flight Redis is not the expensive part: sends of one tick to one host are one script call (one `RPUSH` and one `PEXPIRE` per list), " +
    "a server pops a batch and answers it in one script call, and a receive loop's next pop rides in the same socket write as the tick's sends. " +
    `At 64 in flight that makes ${f2(ours.loaded.clientSyscalls + ours.loaded.serverSyscalls)} client + server system calls per call against Moleculer's ${f2(mol.loaded.clientSyscalls + mol.loaded.serverSyscalls)}, ` +
    `and ${f1(ours.loaded.redis)} µs of Redis CPU per call against ${f1(mol.loaded.redis)}. ` +
    `What is left is JavaScript per call in the two Node processes: ${f1(ours.loaded.client)} µs client + ${f1(ours.loaded.server)} µs server at 64 in flight against Moleculer's ${f1(mol.loaded.client)} + ${f1(mol.loaded.server)} ` +
    "(12.6 + 11.1 before the changes of issue 16, at 41,403 calls/s against Moleculer's 28,930 in that run). " +
    "Issue 16 took out: the ioredis Command objects of the hot path (a batch's script call and a receive loop's pop are now counted and written into one prepared RESP buffer, queued on the ioredis connection as two light commands whose answers go straight to callbacks, so ioredis still reads them in order, fails them on connection loss and the watchdog still sees them; " +
    "an ioredis Command flattened and converted its arguments, built its bytes piece by piece and settled through two promises and a wrapper); " +
    "per send, checking the channel name, building the key and finding capacity and host (now once per channel) and converting the expiry to digits (once per millisecond); " +
    "per received frame, reading the local part into a new string and building the channel name to look up (an inbox's frames for the same channels now reuse the last frame's, compared byte by byte: that name lookup alone was a few per cent of the client), " +
    "and a walk over every decoded value looking for binary ones (skipped when the bytes hold no bin marker); async wrappers around receives; an object built per reply to read the compact envelope; a promise and a reaction per script call for its turn; " +
    "and, per flush, the arguments of those two commands converted and written one by one (a native string write each): the fixed heads (the script's name, hash and key; the pop's name, timeout, key and options) are now written as RESP once per list and copied, numbers digit by digit; " +
    "and the receive loops' next turn (checks, a waiter and its promise) taken before the write of the replies or requests they had just caused: they now wait for the process.nextTick callbacks queued so far, the write among them. " +
    "Those last two, timed from a pop's answer reaching JavaScript to the write it causes (3,000 sequential calls, 6 alternating rounds, p50 of the rounds' medians): server 12.0 → 10.5 µs, client 13.5 → 11.7 µs. " +
    "Before that there were already no deadline timer per call, no awaits or promise chain per request on the server, no abort listener per receive and no timer per Redis command. " +
    "CPU profiles of both processes (`node --cpu-prof`, 64 in flight) now show msgpack as the largest piece of JavaScript (packing the request envelope is about 7% of the client's busy time, its seven fields and the trace context included), then garbage collection (4–5%), the RPC client's call set-up and promise (about 3% each), and the layer's hand-over; nothing else above 3%. " +
    "The socket write that wakes Redis is a third of a busy profile (with the waits for a core that follow it on a loaded machine). " +
    "Throughput at 64 in flight is a ping-pong of batches: the client answers a batch of replies with a batch of requests while the server waits, and the other way round, so calls/s follow the sum of the three processes' CPU per call rather than the largest of them. " +
    "Tried and left out: capping each pop at 8, 16 or 32 frames so that client and server work side by side (two alternating runs at load about 5: 25k and 19k calls/s at 8, 41k and 36k at 16, 67k and 47k at 32, against 56k and 57k at 256: more round trips, no steady gain), and the request leaving in its own write instead of riding with the pop (no move of p50 beyond the noise). " +
    `At 1 in flight the CPU per call (${f1(ours.seq.client)} / ${f1(ours.seq.server)} µs against Moleculer's ${f1(mol.seq.client)} / ${f1(mol.seq.server)}) is mostly the cost of waking up: each process wakes twice per call (its send's answer and the pop's), as Moleculer's do (a PUBLISH is answered too). ` +
    "Where a sequential call's time goes now (timestamps in both processes from a socket's data reaching JavaScript to the write that carries the answer, 4,000 calls at load about 5, p50 per step): " +
    "in the server about 36 µs of JavaScript (ioredis hands over the pop 3, the receive loop's promise hop 3, frame and msgpack decoding 7 — msgpackr extracts the request's strings in one native call, as the request is over 140 bytes — to the handler and its reply's envelope 7, encoding, framing, the receive loop taking its next turn and the batch's turn 9, building the script call and pop 7), " +
    "in the client about 39 µs (3, 3, 6, then 13 from the reply's hand-over through the caller's next call to its send, 5 to the batch's turn, 8 to build the write), and in each the write itself 20–25 µs (loopback TCP on this VM, the wake-up of Redis paid in it); " +
    "about 60 µs per process with the write, against about 110 µs in the measurement before issue 16 (taken at another load, so a rough comparison). " +
    `In Redis, ${f2(ours.seq.commandUs)} µs per call in commands at 1 in flight against ${f2(mol.seq.commandUs)} for Moleculer's two PUBLISHes: a pop that was blocked is served by re-running it (BLMPOP's bookkeeping, the same in the bare floor, whose p50 is Moleculer's), ` +
    "the request runs a small script (RPUSH, then PEXPIRE; the frame is taken back inside the script if it went past capacity) and the reply a transaction (MULTI, RPUSH, LRANGE and LTRIM past capacity, PEXPIRE, EXEC; see below), " +
    "because a plain `RPUSH` would overshoot capacity, which the contract forbids. " +
    "So the sequential gap is now mostly JavaScript that a cold process runs once per wake-up (each step above costs several times what it costs at 64 in flight, where the same code is hot), the script against a plain push in Redis, and each process's wait for a core after its wake-up, which a loaded machine multiplies; " +
    "at 64 in flight, calls/s depend as much on those waits as on CPU per call, so only rows of one run compare. " +
    `Encryption on adds ${f1(enc.loaded.client + enc.loaded.server - ours.loaded.client - ours.loaded.server)} µs per call over both processes at 64 in flight (an AES-256-GCM cipher made per message and direction, each with a fresh IV). ` +
    "Where the sequential gap to Moleculer comes from on a quiet machine: Redis ran each of a call's two sends as a script, and a script is expensive when Redis wakes up cold, as it does at 1 in flight. " +
    "Measured on a private Redis 7.0 with a 1 ms pause before each command (µs in the command, INFO commandstats): SEND_ONE_SCRIPT 8.5, a script that only runs RPUSH 5.3, a script that only returns 1 3.6, MULTI + RPUSH + LTRIM + PEXPIRE + EXEC 4.6, a plain RPUSH 1.2–2.5 (Moleculer's PUBLISH is of that order); hot, the same script costs 2.2 and RPUSH 0.2. " +
    "So two scripts per call cost Redis about 12 µs more than two pushes when it is cold, on the critical path: about the size of the gap seen on a quiet machine (14 µs in a run at 11:30 on 2026-12-07, where everything runs cold), and a likely reason it closes on a loaded one, where Redis stays warm. " +
    "A send to a named channel cannot do without the script: MULTI with RPUSH and LTRIM to capacity is atomic, but LTRIM would cut other senders' frames when a hand-back left a list over capacity (the script takes back only its own). " +
    "A process-local inbox is never handed frames back (its reader keeps what a receive gave up on in its own memory), so it never holds more than its capacity before a push, and a lone frame to it (a reply) now goes as MULTI, RPUSH, LRANGE and LTRIM past capacity, PEXPIRE, EXEC: the LTRIM can only take back that frame, stored when RPUSH answered a length within capacity. " +
    "A refusal goes on to the script, because expired frames at a full list's head must give way (a conformance test), which needs a branch; later frames to that inbox wait for its answer, so order holds. " +
    "Processes may configure different capacities for one inbox (BUS_REPLY_CAPACITY is per process): when another filled it past this one's capacity, the LTRIM cut frames that process was told were stored; LRANGE returned them, they are pushed back, and that process sends to inboxes through the script from then on (tests: capacity, order and expired heads of an inbox on the memory and Redis layers; mixed capacities and concurrent senders on Redis). " +
    "Cold, with a reader blocked on the list as at 1 in flight (private Redis 7.0, 1 ms pause before each push, 1,500 pushes each, alternating, load average about 9): the script 23.4–23.7 µs per push, the transaction 8.4–11.1 (MULTI 0.8, EXEC with what it runs 8.8); " +
    "in five pairs of alternating runs of this bench at load averages 4–14, p50 minus Moleculer's was +18, +37, +24, −53, +13 µs before and +21, +16, −13, −13, +74 µs after, and Redis µs in commands at 1 in flight 23.8, 19.8, 22.8, 21.1, 12.8 before and 21.8, 21.6, 19.1, 20.0, 19.3 after: no change these runs can tell from the machine's noise. A closer A/B in one run (servers of both versions in their own processes on one private Redis, one client calling them in alternating blocks of 500 sequential calls, 40 blocks each, load 3.6–6.8, ten runs): Redis µs in commands per call 20.6, 20.3, 24.7, 27.2 after against 23.2, 23.3, 27.7, 30.6 before (about 3 less, every run it was read), Redis CPU per call 0.1–6.3 µs less in six runs of seven, and the median per-block p50 difference −11.1 to +3.3 µs, below zero in eight runs of ten (median of the ten about −2 µs): the reply's push is cheaper in Redis, but the sequential p50 moves by less than the noise between runs of the full bench, so the p50 target still depends on the machine's load. Left out: a plain RPUSH for replies, trusting the caller to bound its inbox by its calls in flight (a caller may have more calls in flight than the inbox's capacity, a server may answer after the caller gave up, and a send to an inbox must still refuse when it is full, atomically), and the transaction for requests (named channels are handed frames back, so LTRIM could cut others' frames). " +
    "Also tried and left out: skipping PEXPIRE when this process refreshed the list's ttl under 0.5 s ago (at 1 in flight the blocked pop empties the list, so every send creates it again and must set its ttl: nothing was saved), " +
    "and msgpackr's native string extraction turned off (p50 within the noise). " +
    "Sealing a batch instead of each message: an AES-256-GCM seal costs about 3 µs and an open 2.5 µs per 200-byte message here, almost all of it Node's cipher object, against 0.2 µs per message for one seal over 64 of them. " +
    "But the frames of one script call are separate list elements that competing receivers, hand-backs and capacity refusals can split, and a GCM tag authenticates only the whole it was made over: with one tag per batch, a receiver holding part of a batch could not verify its frames, so per-message authenticity would be lost. " +
    "Keeping it needs either a tag per frame under one batch keystream (AES-CTR with an HMAC per frame, a new wire format) or batches stored and counted as one element (capacity and hand-back change), neither done yet.",
].join("\n");
console.log(`\n${markdown}`);
if (process.env.BENCH_WRITE !== "0" && MODES.length === ALL_MODES.length) writeBenchmarkSection("bus-rpc", "bus: RPC request/reply over Redis", "npm run bench -w @boxoffice/bus -- rpc", markdown);
