// The serving side of the RPC benchmark, in its own process as in production. Usage:
//   node rpc-child.ts <boxoffice|boxoffice-encrypted|moleculer|bare> <redis-url> <namespace>
// Prints "ready" when it serves; answers a "cpu" line on stdin with "cpu <µs of user + system CPU
// so far>", so the bench can charge the server's CPU per call; exits on SIGTERM.
import { createInterface } from "node:readline";
import { Redis } from "ioredis";
import moleculer from "moleculer";
import { createChannelLayer, createRpcServer } from "../src/index.ts";
import { BENCH_ENCRYPTION_KEYS, benchEchoV1 } from "./rpc-method.ts";

const [mode, url, namespace] = process.argv.slice(2);

async function serveBoxoffice(encrypted: boolean): Promise<() => Promise<void>> {
  const layer = createChannelLayer(url, { prefix: namespace, capacity: 10_000, symmetricEncryptionKeys: encrypted ? BENCH_ENCRYPTION_KEYS : [] });
  const server = createRpcServer({ layer, service: "bench", concurrency: 256 });
  server.handle(benchEchoV1, (input) => input);
  server.start();
  return async () => {
    await server.stop();
    await layer.close();
  };
}

async function serveMoleculer(): Promise<() => Promise<void>> {
  const broker = new moleculer.ServiceBroker({ nodeID: `server-${process.pid}`, namespace, transporter: new moleculer.Transporters.Redis(url), serializer: "JSON", logger: false });
  broker.createService({ name: "bench", actions: { echo: (ctx: { params: unknown }) => ctx.params } });
  await broker.start();
  return () => broker.stop();
}

// The floor: one list per direction, no envelope beyond id and reply list. Like the servers it is
// compared with, it takes whatever requests are queued in one pop (up to 64) and answers them all
// without waiting on each reply, so it pipelines instead of serving one request per round trip.
async function serveBare(): Promise<() => Promise<void>> {
  const blocking = new Redis(url);
  const pusher = new Redis(url);
  let running = true;
  void (async () => {
    while (running) {
      const popped = (await blocking.blmpop(1, 1, `${namespace}:req`, "LEFT", "COUNT", 64).catch(() => null)) as [string, string[]] | null;
      if (!popped) continue;
      for (const raw of popped[1]) {
        const request = JSON.parse(raw) as { id: number; replyTo: string; body: unknown };
        void pusher.rpush(request.replyTo, JSON.stringify({ id: request.id, body: request.body }));
      }
    }
  })();
  return async () => {
    running = false;
    blocking.disconnect();
    pusher.disconnect();
  };
}

const serve = { boxoffice: () => serveBoxoffice(false), "boxoffice-encrypted": () => serveBoxoffice(true), moleculer: serveMoleculer, bare: serveBare }[mode];
if (!serve) throw new Error(`unknown mode ${mode}`);
const stop = await serve();
createInterface({ input: process.stdin }).on("line", (line) => {
  if (line !== "cpu") return;
  const { user, system } = process.cpuUsage();
  process.stdout.write(`cpu ${user + system}\n`);
});
process.stdout.write("ready\n");
process.on("SIGTERM", () => {
  void stop().finally(() => process.exit(0));
});
