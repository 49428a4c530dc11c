// A redis-server of one's own, on a free loopback port, without persistence: for faults (kill it,
// restart it empty) that must never touch the shared Redis everyone else's tests use, and for
// benchmarks that read Redis's CPU time (the shared server's counts everybody's traffic).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { Redis } from "ioredis";

/** Whether `redis-server` can be started here (private servers need the binary, not a running Redis). */
export function hasRedisServer(): boolean {
  return spawnSync("redis-server", ["--version"]).status === 0;
}

export interface PrivateRedis {
  readonly port: number;
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  /** The running server's process id (undefined while it is down). */
  readonly pid: number | undefined;
  /** User + system CPU time the server has used so far, in µs (INFO cpu: getrusage, µs resolution). */
  cpuMicros(): Promise<number>;
  /** SIGKILL: everything in memory is lost (there is no persistence to come back from). */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty, and waits until it answers PING. */
  restart(): Promise<void>;
  /** Kills it for good. */
  stop(): Promise<void>;
}

export async function freePort(host = "127.0.0.1"): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function answers(port: number): Promise<boolean> {
  const probe = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on("error", () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === "PONG";
  } finally {
    probe.disconnect();
  }
}

/** Starts a private redis-server (no RDB, no AOF) and waits until it answers. */
export async function startPrivateRedis(options: { port?: number; args?: string[] } = {}): Promise<PrivateRedis> {
  const port = options.port ?? (await freePort());
  let child: ChildProcess | undefined;
  const launch = async () => {
    const started = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...(options.args ?? [])], { stdio: "ignore" });
    started.once("error", () => {});
    child = started;
    const deadline = Date.now() + 10_000;
    while (!(await answers(port).catch(() => false))) {
      if (started.exitCode !== null || Date.now() > deadline) throw new Error(`the private redis-server on port ${port} did not answer (exit ${started.exitCode})`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const kill = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill("SIGKILL");
    await exited;
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child?.pid;
    },
    kill,
    async cpuMicros() {
      const probe = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on("error", () => {});
      try {
        await probe.connect();
        const info = await probe.info("cpu");
        const cpu = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? 0);
        return (cpu("used_cpu_sys") + cpu("used_cpu_user")) * 1e6;
      } finally {
        probe.disconnect();
      }
    },
    async restart() {
      await kill();
      await launch();
    },
    stop: kill,
  };
}
