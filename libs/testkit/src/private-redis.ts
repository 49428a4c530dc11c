// A redis-server of one's own, on a free loopback port, no persistence: for benchmarks that read
// Redis's CPU time (the shared server's counts everybody's traffic) and for tests that stop it.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { Redis } from "ioredis";

export interface PrivateRedis {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** User + system CPU time the server has used so far, in µs (INFO cpu: getrusage, µs resolution). */
  cpuMicros(): Promise<number>;
  /** Stops this server (by its pid) and waits for it to exit. */
  stop(): Promise<void>;
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** Starts `redis-server` (it must be installed) and resolves once it answers PING. */
export async function startPrivateRedis(extraArgs: string[] = []): Promise<PrivateRedis> {
  const port = await freePort();
  const child: ChildProcess = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...extraArgs], { stdio: "ignore" });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on("error", () => {});
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      if (probe.status !== "ready") await probe.connect();
      if ((await probe.ping()) === "PONG") break;
    } catch {
      probe.disconnect();
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill("SIGKILL");
      throw new Error(`redis-server on port ${port} did not answer within 10 s`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port,
    pid: child.pid!,
    async cpuMicros() {
      const info = await probe.info("cpu");
      const cpu = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? 0);
      return (cpu("used_cpu_sys") + cpu("used_cpu_user")) * 1e6;
    },
    async stop() {
      probe.disconnect();
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
