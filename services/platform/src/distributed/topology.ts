// The distributed composition root on one machine: every service and gateway as its own OS
// process (the same src/main.ts entry points the images run), against the real Redis and Postgres,
// with a load balancer in front of the gateways. Only the environment of each process differs
// from the embedded mode.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import {
  createChannelLayer,
  createRpcClient,
  createServiceIdentity,
  generateServiceIdentitySecret,
  serviceIdentityPublicKey,
  type ChannelLayer,
  type ServiceIdentity,
} from "@boxoffice/bus";
import { createTokenSigner, generateSigningKey, parseSigningKeys } from "@boxoffice/identity";
import { LOGICAL_SHARD_COUNT, parseShardMap } from "@boxoffice/sharding";
import { dropDatabases, ensureDatabases, databaseUrl } from "./databases.ts";
import { HEALTH_METHODS, type BusService } from "./healthcheck.ts";
import { freePort } from "./free-port.ts";
import { startLoadBalancer, type LoadBalancer } from "./load-balancer.ts";
import { findNginx, nginxVersion, startNginxLoadBalancer } from "./nginx-load-balancer.ts";

const SERVICES_DIR = join(import.meta.dirname, "..", "..", "..");
export const BUS_SERVICES = Object.keys(HEALTH_METHODS) as BusService[];

export interface DistributedOptions {
  /** Redis for the bus and the firehose, e.g. redis://127.0.0.1:6379/0. */
  redisUrl: string;
  /** A Postgres maintenance database URL; the shard databases are created next to it. */
  postgresUrl: string;
  /** Key prefix in Redis: two platforms with different prefixes never share a queue. */
  busPrefix: string;
  /** Shard databases are named <databasePrefix>_<service>_<n>. */
  databasePrefix: string;
  /** Instances of each bus service. */
  instances: number;
  gateways: number;
  /** Physical shards (databases) per service. */
  shardsPerService: number;
  /** Where the load balancer listens (0: any free port). */
  port: number;
  host: string;
  logLevel: string;
  /** Extra environment for every process (e.g. HOLD_TTL_SECONDS, SERVE_WEB). */
  env?: Record<string, string>;
  /** Every line a process prints, with its name; default: printed with a name prefix. */
  onOutput?: (name: string, line: string) => void;
  /** Where the shard map files go (one per service; `npm run shards -- … --map <file>` uses them). */
  stateDir: string;
  /**
   * The load balancer in front of the gateways: "nginx" (Debian's nginx, as a child process), "node"
   * (the small Node balancer inside this process), or "auto" (default): nginx when it is installed,
   * the Node one otherwise (and the runner says so).
   */
  loadBalancer?: "auto" | "nginx" | "node";
  /** Drop the shard databases after stop (tests). */
  dropDatabasesOnStop?: boolean;
  startTimeoutMs?: number;
  /** Time each process gets to drain after SIGTERM before it is killed. */
  drainTimeoutMs?: number;
}

export const DEFAULT_DISTRIBUTED_OPTIONS = {
  redisUrl: "redis://127.0.0.1:6379/0",
  postgresUrl: "postgres://postgres@127.0.0.1:5432/postgres",
  busPrefix: "boxoffice",
  databasePrefix: "boxoffice",
  instances: 2,
  gateways: 2,
  shardsPerService: 2,
  port: 3000,
  host: "127.0.0.1",
  logLevel: "info",
  stateDir: ".data/distributed",
  startTimeoutMs: 90_000,
  drainTimeoutMs: 20_000,
} satisfies Partial<DistributedOptions>;

export interface PlatformProcess {
  /** e.g. "inventory#1", "gateway#0". */
  readonly name: string;
  readonly service: BusService | "gateway";
  readonly index: number;
  readonly child: ChildProcess;
  /** Gateways: their own address (behind the load balancer). */
  readonly url?: string;
  /** Resolves with the exit code (null when killed by a signal) once the process is gone. */
  readonly exited: Promise<number | null>;
  readonly exitSignal: () => NodeJS.Signals | null;
}

export interface StopResult {
  clean: boolean;
  /** How each process that was still running ended (code, or the signal that ended it). */
  exits: Array<{ name: string; code: number | null; signal: NodeJS.Signals | null; killed: boolean }>;
}

/**
 * Exit 0, or death by SIGTERM without the drain timeout's SIGKILL: every process handles SIGTERM
 * by draining, so it only dies *of* SIGTERM when the signal lands while it is already exiting
 * (a terminal's Ctrl-C reached it too). Both are clean stops.
 */
export function isCleanExit(exit: StopResult["exits"][number]): boolean {
  return exit.code === 0 || (exit.signal === "SIGTERM" && !exit.killed);
}

export interface DistributedPlatform {
  /** The load balancer's address: where to browse. */
  readonly url: string;
  readonly processes: readonly PlatformProcess[];
  readonly loadBalancer: LoadBalancer;
  /** Which load balancer runs, and how it came to be chosen (e.g. "nginx/1.22.1 (pid 1234)"). */
  readonly loadBalancerKind: { kind: "nginx" | "node"; pid?: number; description: string };
  readonly databases: readonly string[];
  /** The shard map file of each service. */
  readonly shardMapFiles: Readonly<Record<BusService, string>>;
  /** A channel layer on the platform's bus (for health calls and test clients). */
  readonly layer: ChannelLayer;
  /** The gateway's service identity: local tools (the demo seed, tests) call the services as it. */
  readonly identity: ServiceIdentity;
  /** Stops the load balancer, then drains the gateways, then the services. clean: every process exited 0 by itself. */
  stop(): Promise<StopResult>;
}

/** A session cookie key kept in the state folder, so a restart does not sign everyone out. */
function persistedSessionKey(stateDir: string): string {
  return persistedKey(stateDir, "session-keys");
}

/**
 * A random key kept in the state folder (mode 0600): the session cookie key, so a restart does
 * not sign everyone out; the bus encryption key, so messages queued before a restart still decrypt.
 */
function persistedKey(stateDir: string, name: string): string {
  const file = join(stateDir, name);
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const key = randomBytes(32).toString("hex");
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

/** The users service's token signing key kept in the state folder, so a restart keeps sessions valid. */
async function persistedSigningKeys(stateDir: string): Promise<string> {
  const file = join(stateDir, "users-signing-keys.json");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const keys = JSON.stringify([await generateSigningKey(`local-${randomBytes(4).toString("hex")}`)]);
  writeFileSync(file, `${keys}\n`, { mode: 0o600 });
  return keys;
}


/** Even ranges of the logical shards over the service's databases, shards named <service>-<n>. */
export function shardMapFor(service: string, urls: string[]): string {
  const size = Math.ceil(LOGICAL_SHARD_COUNT / urls.length);
  const map = {
    version: 1,
    shards: urls.map((primary, n) => ({
      name: `${service}-${n}`,
      primary,
      logicalShards: [[n * size, Math.min(LOGICAL_SHARD_COUNT, (n + 1) * size) - 1]],
    })),
  };
  parseShardMap(map);
  return JSON.stringify(map, null, 2);
}

const LEVELS: Record<number, string> = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };

/** A pino JSON line as "level message (error)"; other lines as they are. */
function formatLine(line: string): string {
  if (!line.startsWith("{")) return line;
  try {
    const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
    const level = LEVELS[entry.level ?? 30] ?? "info";
    return `${level.padEnd(5)} ${entry.msg ?? ""}${entry.err?.message ? ` (${entry.err.message})` : ""}`;
  } catch {
    return line;
  }
}

function defaultOutput(name: string, line: string): void {
  process.stdout.write(`${name.padEnd(12)} | ${formatLine(line)}\n`);
}

async function waitUntil(what: string, deadline: number, check: () => Promise<boolean>, failed: () => string | undefined): Promise<void> {
  for (;;) {
    const failure = failed();
    if (failure) throw new Error(`${what}: ${failure}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export async function startDistributedPlatform(input: Partial<DistributedOptions> = {}): Promise<DistributedPlatform> {
  const options = { ...DEFAULT_DISTRIBUTED_OPTIONS, ...input };
  const onOutput = options.onOutput ?? defaultOutput;
  const deadline = Date.now() + options.startTimeoutMs;
  const processes: PlatformProcess[] = [];
  const recentLines = new Map<string, string[]>();

  const databases = BUS_SERVICES.flatMap((service) => Array.from({ length: options.shardsPerService }, (_, n) => `${options.databasePrefix}_${service}_${n}`));
  await ensureDatabases(options.postgresUrl, databases);

  const stateDir = resolve(options.stateDir, options.databasePrefix);
  mkdirSync(stateDir, { recursive: true });
  // Encrypted by default: passwords, card numbers and refresh tokens cross the bus and would sit
  // in Redis (and its append-only file) in clear otherwise.
  const busEncryptionKeys = options.env?.BUS_ENCRYPTION_KEYS ?? process.env.BUS_ENCRYPTION_KEYS ?? persistedKey(stateDir, "bus-encryption-keys");
  const layer = createChannelLayer(options.redisUrl, { prefix: options.busPrefix, symmetricEncryptionKeys: busEncryptionKeys.split(",").map((k) => k.trim()).filter(Boolean) });
  // Each process proves which service it is; every server knows all public keys and checks them.
  const identitySecrets = Object.fromEntries([...BUS_SERVICES, "gateway"].map((service) => [service, generateServiceIdentitySecret()])) as Record<BusService | "gateway", string>;
  const serviceIdentities = Object.entries(identitySecrets).map(([service, secret]) => `${service}=${serviceIdentityPublicKey(secret)}`).join(",");
  const identity = createServiceIdentity({ service: "gateway", secret: identitySecrets.gateway });
  // Token keys: the users service signs with a key kept here; every verifier is pinned to its public part.
  const signingKeys = options.env?.USERS_SIGNING_KEYS ?? process.env.USERS_SIGNING_KEYS ?? (await persistedSigningKeys(stateDir));
  const trustedJwks = JSON.stringify((await createTokenSigner({ keys: parseSigningKeys(signingKeys) })).publicKeys());
  const rpc = createRpcClient({ layer, service: "gateway", defaultDeadlineMs: 2000, identity });
  let loadBalancer: LoadBalancer | undefined;

  const common: Record<string, string> = {
    BUS_URL: options.redisUrl,
    FIREHOSE_URL: options.redisUrl,
    BUS_PREFIX: options.busPrefix,
    LOG_LEVEL: options.logLevel,
    ...options.env,
    BUS_ENCRYPTION_KEYS: busEncryptionKeys,
    SERVICE_IDENTITIES: serviceIdentities,
    IDENTITY_TRUSTED_JWKS: trustedJwks,
  };

  function launch(service: BusService | "gateway", index: number, env: Record<string, string>, url?: string): PlatformProcess {
    const name = `${service}#${index}`;
    const child = spawn(process.execPath, [join(SERVICES_DIR, service, "src", "main.ts")], {
      env: { ...process.env, ...common, SERVICE_IDENTITY_SECRET: identitySecrets[service], ...(service === "users" ? { USERS_SIGNING_KEYS: signingKeys } : {}), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const lines: string[] = [];
    recentLines.set(name, lines);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream! }).on("line", (line) => {
        lines.push(line);
        if (lines.length > 20) lines.shift();
        onOutput(name, line);
      });
    }
    let signal: NodeJS.Signals | null = null;
    const exited = new Promise<number | null>((resolve) => {
      child.once("exit", (code, sig) => {
        signal = sig;
        // Nothing restarts it here (compose and Kubernetes would): say so where the logs are read.
        if (!stopped) onOutput(name, `exited unexpectedly (${code ?? sig}); the other instances carry on`);
        resolve(code);
      });
    });
    const handle: PlatformProcess = { name, service, index, child, url, exited, exitSignal: () => signal };
    processes.push(handle);
    return handle;
  }

  /** A process that died during start-up, with its last lines. */
  const deadProcess = () => {
    const dead = processes.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
    return dead ? `${dead.name} exited (${dead.child.exitCode ?? dead.child.signalCode}):\n${(recentLines.get(dead.name) ?? []).join("\n")}` : undefined;
  };

  let stopped: Promise<StopResult> | undefined;
  const stop = (): Promise<StopResult> => (stopped ??= stopAll());
  const stopAll = async (): Promise<StopResult> => {
    await loadBalancer?.close().catch(() => {});
    const exits: StopResult["exits"] = [];
    const drain = async (group: PlatformProcess[]) => {
      await Promise.all(group.map(async (p) => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) return;
        p.child.kill("SIGTERM");
        let killed = false;
        const timer = setTimeout(() => {
          killed = true;
          p.child.kill("SIGKILL");
        }, options.drainTimeoutMs);
        const code = await p.exited;
        clearTimeout(timer);
        exits.push({ name: p.name, code, signal: p.exitSignal(), killed });
      }));
    };
    // Gateways first, so no new work reaches the services while they drain.
    await drain(processes.filter((p) => p.service === "gateway"));
    await drain(processes.filter((p) => p.service !== "gateway"));
    await rpc.close();
    await layer.close();
    if (options.dropDatabasesOnStop) await dropDatabases(options.postgresUrl, databases);
    return { clean: exits.every(isCleanExit), exits };
  };

  const shardMapFiles = {} as Record<BusService, string>;

  // The waiting room's admissions: signed by every gateway, verified by every inventory instance.
  const admissionKeys = options.env?.ADMISSION_KEYS ?? process.env.ADMISSION_KEYS ?? persistedKey(stateDir, "admission-keys");
  try {
    for (const service of BUS_SERVICES) {
      const urls = Array.from({ length: options.shardsPerService }, (_, n) => databaseUrl(options.postgresUrl, `${options.databasePrefix}_${service}_${n}`));
      shardMapFiles[service] = join(stateDir, `${service}.json`);
      writeFileSync(shardMapFiles[service], `${shardMapFor(service, urls)}\n`);
      for (let index = 0; index < options.instances; index++) {
        launch(service, index, {
          SHARD_MAP_FILE: shardMapFiles[service],
          NODE_ID: String(index),
          MIGRATE_ON_START: "true",
          // One instance creates the demo organiser; the others would only race it.
          ...(service === "users" ? { SEED_DEMO: index === 0 ? "true" : "false" } : {}),
          ...(service === "inventory" ? { ADMISSION_KEYS: admissionKeys } : {}),
        });
      }
    }
    for (const service of BUS_SERVICES) {
      await waitUntil(`${service} to answer ${service}.health.v1`, deadline, async () => (await rpc.call(HEALTH_METHODS[service], {})).ok, deadProcess);
    }

    const sessionKeys = options.env?.SESSION_KEYS ?? process.env.SESSION_KEYS ?? persistedSessionKey(stateDir);
    const gateways: PlatformProcess[] = [];
    for (let index = 0; index < options.gateways; index++) {
      const port = await freePort(options.host);
      const url = `http://${options.host}:${port}`;
      gateways.push(launch("gateway", index, { PORT: String(port), HOST: options.host, SESSION_KEYS: sessionKeys, ADMISSION_KEYS: admissionKeys, TRUST_PROXY: "1" }, url));
    }
    for (const gateway of gateways) {
      await waitUntil(`${gateway.name} to answer GET /healthz`, deadline, async () => (await fetch(`${gateway.url}/healthz`)).ok, deadProcess);
    }

    const balancerOptions = { targets: gateways.map((g) => g.url!), port: options.port, host: options.host };
    const choice = options.loadBalancer ?? "auto";
    const nginx = choice === "node" ? undefined : findNginx();
    let loadBalancerKind: DistributedPlatform["loadBalancerKind"];
    if (nginx) {
      const balancer = await startNginxLoadBalancer({ ...balancerOptions, nginx, onLog: (line) => onOutput("nginx", line) });
      loadBalancer = balancer;
      loadBalancerKind = { kind: "nginx", pid: balancer.pid, description: `${nginxVersion(nginx) ?? nginx} (pid ${balancer.pid}, a child of this runner)` };
    } else {
      if (choice === "nginx") throw new Error("the nginx load balancer was asked for, but nginx is not installed (apt-get install -y nginx)");
      loadBalancer = await startLoadBalancer(balancerOptions);
      loadBalancerKind = {
        kind: "node",
        description: choice === "node" ? "the Node balancer in this process (asked for)" : "the Node balancer in this process: nginx is not installed (apt-get install -y nginx, or tools/ensure-services.sh)",
      };
    }
    const url = loadBalancer.url;
    await waitUntil("the platform to answer GET /readyz through the load balancer", deadline, async () => (await fetch(`${url}/readyz`)).ok, deadProcess);

    return { url, processes, loadBalancer, loadBalancerKind, databases, shardMapFiles, layer, identity, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
