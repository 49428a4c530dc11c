// The load balancer of `npm run start:distributed`, both of them (nginx when installed, the Node one
// otherwise): round robin over the gateways, a gateway that refuses connections is skipped without
// losing the request (body included), WebSockets pass through, a gateway dying mid-request is 503
// with Retry-After in the API's error shape, and closing it ends live sockets so clients reconnect
// elsewhere.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { waitFor } from "@boxoffice/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { startLoadBalancer, type LoadBalancer, type LoadBalancerOptions } from "../src/distributed/load-balancer.ts";
import { findNginx, nginxConfig, startNginxLoadBalancer } from "../src/distributed/nginx-load-balancer.ts";

const nginx = findNginx();
const balancers: Array<{ name: string; start: (options: LoadBalancerOptions) => Promise<LoadBalancer> }> = [
  { name: "Node", start: startLoadBalancer },
  ...(nginx ? [{ name: "nginx", start: (options: LoadBalancerOptions) => startNginxLoadBalancer({ ...options, nginx }) }] : []),
];
if (!nginx) console.warn("nginx is not installed (apt-get install -y nginx): only the Node load balancer is tested");

interface Backend {
  name: string;
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** A stand-in gateway: answers with its name and the body it got; echoes WebSocket messages. */
async function startBackend(name: string): Promise<Backend> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ name, method: req.method, url: req.url, body: Buffer.concat(chunks).toString(), forwardedFor: req.headers["x-forwarded-for"] ?? null, requestStart: req.headers["x-request-start"] ?? null }));
    });
  });
  const wss = new WebSocketServer({ server });
  wss.on("connection", (socket) => socket.on("message", (data) => socket.send(`${name}:${String(data)}`)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    name,
    url,
    server,
    close: () => new Promise<void>((resolve) => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => {});
});

describe.each(balancers)("the $name load balancer in front of the gateways", ({ start: startLoadBalancer }) => {
async function setup(count: number): Promise<{ backends: Backend[]; lb: LoadBalancer }> {
  const backends = await Promise.all(Array.from({ length: count }, (_, i) => startBackend(`gateway-${i}`)));
  for (const backend of backends) cleanups.push(() => backend.close());
  const lb = await startLoadBalancer({ targets: backends.map((b) => b.url), port: 0, host: "127.0.0.1", healthIntervalMs: 100 });
  cleanups.push(() => lb.close());
  return { backends, lb };
}

  it("when requests arrive, they are spread over every gateway with the client's address forwarded", async () => {
    const { lb } = await setup(2);
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const body = (await (await fetch(`${lb.url}/api/events?i=${i}`)).json()) as { name: string; url: string; forwardedFor: string | null };
      expect(body.url).toBe(`/api/events?i=${i}`);
      expect(body.forwardedFor).toContain("127.0.0.1");
      seen.add(body.name);
    }
    expect([...seen].sort()).toEqual(["gateway-0", "gateway-1"]);
  });

  it("when it passes a request on, it stamps X-Request-Start with the time (replacing a client's), so a gateway sees how long the request waited", async () => {
    const { lb } = await setup(1);
    const before = Date.now();
    const body = (await (await fetch(`${lb.url}/api/events`, { headers: { "x-request-start": "t=1" } })).json()) as { requestStart: string | null };
    const stamped = /^t=(\d+\.\d{3})$/.exec(body.requestStart ?? "");
    expect(stamped, `X-Request-Start: ${body.requestStart}`).not.toBeNull();
    const ms = Number(stamped![1]) * 1000;
    expect(ms).toBeGreaterThanOrEqual(before - 1000);
    expect(ms).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it("when a gateway is down, every request (POST bodies included) is served by the other one", async () => {
    const { backends, lb } = await setup(2);
    await backends[0].close();
    for (let i = 0; i < 6; i++) {
      const response = await fetch(`${lb.url}/api/orders`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ n: i }) });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { name: string; body: string };
      expect(body).toMatchObject({ name: "gateway-1", body: JSON.stringify({ n: i }) });
    }
    await waitFor(() => lb.healthyTargets().length === 1, { what: "the down gateway to be marked down" });
  });

  it("when a gateway leaves the list (a scale-down), new requests go only to the others, and it comes back when listed again", async () => {
    const { backends, lb } = await setup(2);
    await lb.setTargets([backends[1].url]);
    expect(lb.targets()).toEqual([backends[1].url]);
    const names = new Set<string>();
    for (let i = 0; i < 6; i++) names.add(((await (await fetch(`${lb.url}/api/events?i=${i}`)).json()) as { name: string }).name);
    expect([...names]).toEqual(["gateway-1"]);
    await lb.setTargets(backends.map((b) => b.url));
    names.clear();
    for (let i = 0; i < 6; i++) names.add(((await (await fetch(`${lb.url}/api/events?i=${i}`)).json()) as { name: string }).name);
    expect([...names].sort()).toEqual(["gateway-0", "gateway-1"]);
  });

  it("when a gateway dies in the middle of a request, the client gets 503 with Retry-After (the contract's answer), not a 502", async () => {
    const dying = createServer((req) => req.socket.destroy());
    await new Promise<void>((resolve) => dying.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => dying.close(() => resolve())));
    const lb = await startLoadBalancer({ targets: [`http://127.0.0.1:${(dying.address() as AddressInfo).port}`], port: 0, host: "127.0.0.1", healthIntervalMs: 100 });
    cleanups.push(() => lb.close());
    const response = await fetch(`${lb.url}/api/orders`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("UNAVAILABLE");
  });

  it("when a body is larger than the limit, the client gets 413 in the API's error shape", async () => {
    const { lb } = await setup(1);
    const response = await fetch(`${lb.url}/api/orders`, { method: "POST", headers: { "content-type": "application/json" }, body: "x".repeat(1024 * 1024 + 1) });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("when a gateway answers 503 itself, its answer passes through untouched", async () => {
    const busy = createServer((_req, res) => {
      res.writeHead(503, { "content-type": "application/json", "retry-after": "7" });
      res.end(JSON.stringify({ error: { code: "BUSY", message: "the gateway's own" } }));
    });
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => busy.close(() => resolve())));
    const lb = await startLoadBalancer({ targets: [`http://127.0.0.1:${(busy.address() as AddressInfo).port}`], port: 0, host: "127.0.0.1", healthIntervalMs: 100 });
    cleanups.push(() => lb.close());
    const response = await fetch(`${lb.url}/api/events`);
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("7");
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("BUSY");
  });

  it("when no gateway is reachable, the client gets 503 with Retry-After instead of a hang", async () => {
    const { backends, lb } = await setup(1);
    await backends[0].close();
    const response = await fetch(`${lb.url}/api/events`);
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
  });

  it("when a browser opens a WebSocket, it is passed through to a gateway, and closing the balancer ends it", async () => {
    const { lb } = await setup(2);
    const socket = new WebSocket(`${lb.url.replace("http", "ws")}/api/events/1/live`);
    const messages: string[] = [];
    socket.addEventListener("message", (event) => messages.push(String(event.data)));
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve());
      socket.addEventListener("error", () => reject(new Error("the WebSocket did not open")));
    });
    socket.send("hello");
    await waitFor(() => messages.length === 1, { what: "the echo" });
    expect(messages[0]).toMatch(/^gateway-[01]:hello$/);
    const closed = new Promise<void>((resolve) => socket.addEventListener("close", () => resolve()));
    await lb.close();
    await closed;
  });
});

describe("the nginx configuration of start:distributed", () => {
  it("names every gateway with keepalive, passes WebSocket upgrades, and turns its own 502/504 into 503 with Retry-After", () => {
    const conf = nginxConfig({ targets: ["http://127.0.0.1:41001", "http://127.0.0.1:41002"], host: "127.0.0.1", port: 3000, dir: "/tmp/x", maxBodyBytes: 1024 });
    expect(conf).toContain("server 127.0.0.1:41001");
    expect(conf).toContain("server 127.0.0.1:41002");
    expect(conf).toMatch(/keepalive \d+;/);
    expect(conf).toContain("proxy_set_header Upgrade $http_upgrade;");
    expect(conf).toContain("error_page 502 504 =503 @unavailable;");
    expect(conf).toContain('proxy_set_header X-Request-Start "t=${msec}";');
    expect(conf).toContain("add_header Retry-After 1 always;");
    expect(conf).not.toContain("non_idempotent");
  });
});
