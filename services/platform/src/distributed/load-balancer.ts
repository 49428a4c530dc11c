// The small load balancer in front of the gateways when the platform runs as processes on one
// machine (docker-compose uses nginx, Kubernetes an Ingress). Built on http-proxy: round robin
// over the gateways that pass their health check, WebSocket upgrades passed through, no
// stickiness (sessions are signed cookies). A request whose connection a gateway refuses never
// reached it, so it is sent to the next gateway with the buffered body; anything else is not
// replayed (a POST that reached a gateway may have had effects).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Readable } from "node:stream";
import httpProxy from "http-proxy";

export interface LoadBalancerOptions {
  /** Gateway base URLs, e.g. http://127.0.0.1:41001. */
  targets: string[];
  port: number;
  host: string;
  /** How often each gateway's GET /healthz is polled. Default 1000 ms. */
  healthIntervalMs?: number;
  /** Largest request body buffered for a retry; larger ones get 413. Default 1 MiB. */
  maxBodyBytes?: number;
}

export const DEFAULT_LOAD_BALANCER_OPTIONS = { healthIntervalMs: 1000, maxBodyBytes: 1024 * 1024 };

export interface LoadBalancer {
  /** The address it listens on, e.g. http://127.0.0.1:3000. */
  readonly url: string;
  /** Gateways currently believed up. */
  healthyTargets(): string[];
  /** Every gateway in its list, up or not. */
  targets(): string[];
  /**
   * Replaces the list of gateways (a scale-down, a config reload): requests already sent to a
   * gateway that leaves the list finish there; new ones go only to the listed ones (once the
   * promise resolves: nginx reloads its configuration, the Node balancer switches at once).
   */
  setTargets(urls: string[]): Promise<void>;
  /** Stops accepting connections, closes idle ones and WebSockets, and resolves when closed. */
  close(): Promise<void>;
}

interface Target {
  url: string;
  up: boolean;
}

/** Errors that mean the request never reached the gateway, so sending it elsewhere is safe. */
const REFUSED = new Set(["ECONNREFUSED", "EHOSTUNREACH"]);

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { "content-type": "application/json", ...(status === 503 ? { "retry-after": "1" } : {}) });
  res.end(JSON.stringify({ error: { code, message } }));
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | "too-large"> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return "too-large";
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function startLoadBalancer(options: LoadBalancerOptions): Promise<LoadBalancer> {
  const { healthIntervalMs, maxBodyBytes } = { ...DEFAULT_LOAD_BALANCER_OPTIONS, ...options };
  let targets: Target[] = options.targets.map((url) => ({ url, up: true }));
  const proxy = httpProxy.createProxyServer({ xfwd: true, ws: true });
  const sockets = new Set<Socket>();
  const upgraded = new Set<Socket>();
  let cursor = 0;

  /** The next gateway believed up after `tried`, round robin; undefined when none is left. */
  function pick(tried: Set<Target>): Target | undefined {
    for (let i = 0; i < targets.length; i++) {
      const target = targets[cursor++ % targets.length];
      if (target.up && !tried.has(target)) return target;
    }
    // Every gateway looks down: try one not tried yet anyway rather than fail without trying.
    return targets.find((target) => !tried.has(target));
  }

  function forward(req: IncomingMessage, res: ServerResponse, body: Buffer, tried: Set<Target>): void {
    const target = pick(tried);
    if (!target) {
      sendError(res, 503, "UNAVAILABLE", "no gateway is reachable");
      return;
    }
    tried.add(target);
    proxy.web(req, res, { target: target.url, buffer: Readable.from([body]) }, (error: NodeJS.ErrnoException) => {
      if (error.code && REFUSED.has(error.code) && !res.headersSent) {
        target.up = false;
        forward(req, res, body, tried);
        return;
      }
      // The gateway went away mid-request (killed, connection reset): the request may or may not have
      // taken effect, which is what 503 UNAVAILABLE with Retry-After already tells a client that retries
      // with its Idempotency-Key (the HTTP contract's answer when a part cannot be reached), not a bare 502.
      sendError(res, 503, "UNAVAILABLE", `gateway ${target.url} failed: ${error.message}`);
    });
  }

  const server: Server = createServer((req, res) => {
    // When the request was passed on, as nginx writes it (a client's own is replaced): the gateway
    // measures how long it waited to be read and sheds it past REQUEST_QUEUE_MAX_MS.
    req.headers["x-request-start"] = `t=${(Date.now() / 1000).toFixed(3)}`;
    readBody(req, maxBodyBytes).then(
      (body) => {
        if (body === "too-large") sendError(res, 413, "PAYLOAD_TOO_LARGE", `request bodies are limited to ${maxBodyBytes} bytes`);
        else forward(req, res, body, new Set());
      },
      () => res.destroy(),
    );
  });

  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const target = pick(new Set());
    if (!target) {
      socket.destroy();
      return;
    }
    upgraded.add(socket);
    socket.once("close", () => upgraded.delete(socket));
    proxy.ws(req, socket, head, { target: target.url }, () => socket.destroy());
  });

  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });

  const poll = setInterval(() => {
    for (const target of targets) {
      fetch(`${target.url}/healthz`, { signal: AbortSignal.timeout(Math.max(200, healthIntervalMs)) }).then(
        (response) => {
          target.up = response.ok;
        },
        () => {
          target.up = false;
        },
      );
    }
  }, healthIntervalMs);
  poll.unref();

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // A deep accept queue (capped by net.core.somaxconn): a spike waits to be accepted instead of being dropped.
    server.listen({ port: options.port, host: options.host, backlog: 4096 }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.address.includes(":") ? `[${address.address}]` : address.address}:${address.port}`;

  return {
    url,
    healthyTargets: () => targets.filter((target) => target.up).map((target) => target.url),
    targets: () => targets.map((target) => target.url),
    setTargets(urls) {
      // A gateway that stays keeps what its health check knows of it.
      targets = urls.map((url) => targets.find((target) => target.url === url) ?? { url, up: true });
      return Promise.resolve();
    },
    async close() {
      clearInterval(poll);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Live sockets would keep the server open forever: end them so clients reconnect elsewhere.
      for (const socket of upgraded) socket.end();
      // Requests in flight get a grace period to finish; then whatever is left is cut.
      const grace = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, 5000);
      grace.unref();
      await closed;
      clearTimeout(grace);
      proxy.close();
    },
  };
}
