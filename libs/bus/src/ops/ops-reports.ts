// How the operator console learns about every process: each process (service instance or gateway)
// sends a small report to one channel-layer group every couple of seconds; gateways add their own
// inbox to the group and keep the latest reports per instance. Nothing here is on a request's path:
// an RPC server only counts in memory (rpc-server.ts `stats`), and the report is a timer's groupSend.
import { randomUUID } from "node:crypto";
import type { ChannelLayer, Message } from "../channel-layer/types.ts";
import { requestChannelOf } from "../rpc/define-method.ts";
import { RPC_LATENCY_BUCKETS_MS, type RpcServer } from "../rpc/rpc-server.ts";

/** The group every process reports to. */
export const OPS_REPORTS_GROUP = "ops.reports";

export interface OpsShardReport {
  shard: string;
  logicalShards: Array<[number, number]>;
  reachable: boolean;
  replicas: number;
}

export interface OpsChannelReport {
  name: string;
  depth: number;
  capacity: number;
}

/** One process's report: cumulative counters (the reader turns two reports into rates). */
export interface OpsReport {
  service: string;
  instance: string;
  startedAt: string;
  sentAt: number;
  inFlight: number;
  handled: number;
  errors: number;
  /** Per RPC method served: cumulative calls, errors and latency histogram (RPC_LATENCY_BUCKETS_MS + one). */
  methods: Record<string, { calls: number; errors: number; latencyBuckets: number[] }>;
  channels: OpsChannelReport[];
  shards: OpsShardReport[];
}

/** What a process knows about itself beyond its RPC server (a gateway has none: it counts HTTP requests). */
export interface OpsSample {
  inFlight?: number;
  handled?: number;
  errors?: number;
}

/** The shard router's parts a probe needs (structural: the bus does not depend on @boxoffice/sharding). */
export interface OpsProbedRouter {
  readonly map: { readonly shards: ReadonlyArray<{ name: string; replicas?: readonly string[]; logicalShards: ReadonlyArray<readonly [number, number]> }> };
  readonly sql: { forShard(name: string): { query(text: string): Promise<unknown> } };
}

export interface OpsReporterOptions {
  layer: ChannelLayer;
  service: string;
  /** Default: a random id (a restarted process is a new instance). */
  instance?: string;
  /** Default 2000. */
  intervalMs?: number;
  /** Its methods, in-flight count and request channel depth are reported. */
  rpcServer?: RpcServer;
  /** Shards the process owns, each probed with `select 1` (at most probeTimeoutMs) before every report. */
  router?: OpsProbedRouter;
  /** Default 1000. */
  probeTimeoutMs?: number;
  /** Counters of a process without an RPC server (the gateway's HTTP requests). */
  sample?: () => OpsSample;
  group?: string;
}

export const DEFAULT_OPS_REPORTER_OPTIONS = { intervalMs: 2000, probeTimeoutMs: 1000, group: OPS_REPORTS_GROUP };

export interface OpsReporter {
  readonly instance: string;
  /** Sends a first report at once, then every intervalMs. */
  start(): void;
  stop(): Promise<void>;
  /** The report as it would be sent now (tests, and the gateway's view of itself). */
  report(): Promise<OpsReport>;
}

async function probe(router: OpsProbedRouter, name: string, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const query = Promise.resolve().then(() => router.sql.forShard(name).query("select 1"));
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("probe timed out")), timeoutMs);
    });
    await Promise.race([query, timeout]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export function createOpsReporter(options: OpsReporterOptions): OpsReporter {
  const { layer, service, rpcServer, router, sample } = options;
  const instance = options.instance ?? `${service}-${randomUUID().slice(0, 8)}`;
  const intervalMs = options.intervalMs ?? DEFAULT_OPS_REPORTER_OPTIONS.intervalMs;
  const probeTimeoutMs = options.probeTimeoutMs ?? DEFAULT_OPS_REPORTER_OPTIONS.probeTimeoutMs;
  const group = options.group ?? DEFAULT_OPS_REPORTER_OPTIONS.group;
  const startedAt = new Date().toISOString();
  let timer: NodeJS.Timeout | undefined;
  let sending: Promise<void> | undefined;

  async function report(): Promise<OpsReport> {
    const own = sample?.() ?? {};
    const channels: OpsChannelReport[] = [];
    if (rpcServer && layer.depth) {
      const name = requestChannelOf(service);
      try {
        channels.push({ name, ...(await layer.depth(name)) });
      } catch {
        // The bus is down: the report will not get through either.
      }
    }
    const shards = router
      ? await Promise.all(
          router.map.shards.map(async (s) => ({
            shard: s.name,
            logicalShards: s.logicalShards.map(([from, to]) => [from, to] as [number, number]),
            reachable: await probe(router, s.name, probeTimeoutMs),
            replicas: s.replicas?.length ?? 0,
          })),
        )
      : [];
    const methods: OpsReport["methods"] = {};
    for (const [name, m] of Object.entries(rpcServer?.stats.methods ?? {})) methods[name] = { calls: m.calls, errors: m.errors, latencyBuckets: [...m.latencyBuckets] };
    return {
      service,
      instance,
      startedAt,
      sentAt: Date.now(),
      inFlight: (rpcServer?.inFlight ?? 0) + (own.inFlight ?? 0),
      handled: (rpcServer?.stats.handled ?? 0) + (own.handled ?? 0),
      errors: (rpcServer?.stats.errors ?? 0) + (own.errors ?? 0),
      methods,
      channels,
      shards,
    };
  }

  async function send(): Promise<void> {
    try {
      await layer.groupSend(group, (await report()) as unknown as Message);
    } catch {
      // A lost report is a gap on the console, never an error of the process: the next one follows.
    }
  }

  const tick = () => {
    if (sending) return; // a slow probe never stacks reports
    sending = send().finally(() => {
      sending = undefined;
    });
  };

  return {
    instance,
    start() {
      if (timer) return;
      tick();
      timer = setInterval(tick, intervalMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      await sending;
    },
    report,
  };
}

// ---------------------------------------------------------------------------------------------
// The reading side (gateways).

export interface OpsInstanceView {
  service: string;
  instance: string;
  startedAt: string;
  lastSeenAt: string;
  inFlight: number;
  handledPerSecond: number;
  errorsPerSecond: number;
  /** Not heard of for longer than goneAfterMs: shown, not hidden, until forgetAfterMs. */
  gone: boolean;
}

export interface OpsMethodView {
  method: string;
  callsPerSecond: number;
  p50Ms: number | null;
  p99Ms: number | null;
  errorsPerSecond: number;
}

export interface OpsShardView extends OpsShardReport {
  service: string;
}

export interface OpsOverviewPart {
  instances: OpsInstanceView[];
  methods: OpsMethodView[];
  channels: OpsChannelReport[];
  shards: OpsShardView[];
}

export interface OpsCollectorOptions {
  layer: ChannelLayer;
  group?: string;
  /** Default 6000 (three missed reports). */
  goneAfterMs?: number;
  /** Gone instances are dropped after this long. Default 600000. */
  forgetAfterMs?: number;
  /** Rates and percentiles cover this window. Default 60000. */
  windowMs?: number;
  now?: () => number;
}

export const DEFAULT_OPS_COLLECTOR_OPTIONS = { goneAfterMs: 6000, forgetAfterMs: 600_000, windowMs: 60_000 };

export interface OpsCollector {
  /** Resolves once this process's inbox is in the group. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Takes a report as if it came over the bus (the gateway adds its own without a round trip). */
  accept(report: OpsReport): void;
  overview(): OpsOverviewPart;
}

/** A report as a gateway received it. */
export interface OpsSeenReport {
  receivedAt: number;
  report: OpsReport;
}

/** The upper bound of the bucket holding the q-quantile (null without calls); the last bucket reports its lower bound. */
export function quantileFromBuckets(buckets: readonly number[], q: number): number | null {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i];
    if (seen >= rank) return RPC_LATENCY_BUCKETS_MS[Math.min(i, RPC_LATENCY_BUCKETS_MS.length - 1)];
  }
  return RPC_LATENCY_BUCKETS_MS[RPC_LATENCY_BUCKETS_MS.length - 1];
}

function isReport(message: unknown): message is OpsReport {
  const m = message as Partial<OpsReport> | null;
  return (
    typeof m === "object" && m !== null && typeof m.service === "string" && typeof m.instance === "string" && typeof m.startedAt === "string" &&
    typeof m.handled === "number" && typeof m.errors === "number" && typeof m.inFlight === "number" && typeof m.methods === "object" && m.methods !== null &&
    Array.isArray(m.channels) && Array.isArray(m.shards)
  );
}

/** Rates and percentiles from reports kept per instance (oldest first). Pure: tested without a bus. */
export function summariseOpsReports(histories: ReadonlyMap<string, readonly OpsSeenReport[]>, now: number, options: { goneAfterMs: number; windowMs: number }): OpsOverviewPart {
  const instances: OpsInstanceView[] = [];
  const methodTotals = new Map<string, { calls: number; errors: number; buckets: number[] }>();
  const channels = new Map<string, OpsChannelReport & { at: number }>();
  const shards = new Map<string, OpsShardView & { at: number }>();
  for (const history of histories.values()) {
    const latest = history[history.length - 1];
    const gone = now - latest.receivedAt > options.goneAfterMs;
    // The oldest report inside the window is the base of the rates; a single report gives no rate yet.
    const base = history.find((s) => latest.receivedAt - s.receivedAt <= options.windowMs) ?? latest;
    const seconds = (latest.report.sentAt - base.report.sentAt) / 1000;
    const rate = (delta: number) => (seconds > 0 && !gone ? Math.round((delta / seconds) * 100) / 100 : 0);
    const r = latest.report;
    instances.push({
      service: r.service,
      instance: r.instance,
      startedAt: r.startedAt,
      lastSeenAt: new Date(latest.receivedAt).toISOString(),
      inFlight: gone ? 0 : r.inFlight,
      handledPerSecond: rate(r.handled - base.report.handled),
      errorsPerSecond: rate(r.errors - base.report.errors),
      gone,
    });
    if (gone) continue;
    for (const [method, m] of Object.entries(r.methods)) {
      const before = base.report.methods[method];
      const total = methodTotals.get(method) ?? { calls: 0, errors: 0, buckets: new Array<number>(RPC_LATENCY_BUCKETS_MS.length + 1).fill(0) };
      const span = seconds > 0 ? seconds : 1;
      total.calls += (m.calls - (before?.calls ?? 0)) / span;
      total.errors += (m.errors - (before?.errors ?? 0)) / span;
      m.latencyBuckets.forEach((count, i) => (total.buckets[i] += count - (before?.latencyBuckets[i] ?? 0)));
      methodTotals.set(method, total);
    }
    for (const c of r.channels) {
      const known = channels.get(c.name);
      if (!known || known.at < latest.receivedAt) channels.set(c.name, { ...c, at: latest.receivedAt });
    }
    for (const s of r.shards) {
      const key = `${r.service}/${s.shard}`;
      const known = shards.get(key);
      // Unreachable from any live instance counts: the freshest report wins, ties go to "unreachable".
      if (!known || known.at < latest.receivedAt || (known.at === latest.receivedAt && !s.reachable)) shards.set(key, { service: r.service, ...s, at: latest.receivedAt });
    }
  }
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    instances: instances.sort((a, b) => a.service.localeCompare(b.service) || a.startedAt.localeCompare(b.startedAt) || a.instance.localeCompare(b.instance)),
    methods: [...methodTotals.entries()]
      .map(([method, t]) => ({ method, callsPerSecond: round(t.calls), p50Ms: quantileFromBuckets(t.buckets, 0.5), p99Ms: quantileFromBuckets(t.buckets, 0.99), errorsPerSecond: round(t.errors) }))
      .sort((a, b) => b.callsPerSecond - a.callsPerSecond || a.method.localeCompare(b.method)),
    channels: [...channels.values()].map(({ at: _at, ...c }) => c).sort((a, b) => a.name.localeCompare(b.name)),
    shards: [...shards.values()].map(({ at: _at, ...s }) => s).sort((a, b) => a.service.localeCompare(b.service) || a.shard.localeCompare(b.shard)),
  };
}

export function createOpsCollector(options: OpsCollectorOptions): OpsCollector {
  const { layer } = options;
  const group = options.group ?? OPS_REPORTS_GROUP;
  const goneAfterMs = options.goneAfterMs ?? DEFAULT_OPS_COLLECTOR_OPTIONS.goneAfterMs;
  const forgetAfterMs = options.forgetAfterMs ?? DEFAULT_OPS_COLLECTOR_OPTIONS.forgetAfterMs;
  const windowMs = options.windowMs ?? DEFAULT_OPS_COLLECTOR_OPTIONS.windowMs;
  const now = options.now ?? Date.now;
  const histories = new Map<string, OpsSeenReport[]>();
  let channel: string | undefined;
  let abort = new AbortController();
  let loop: Promise<void> | undefined;
  let refresh: NodeJS.Timeout | undefined;

  function accept(report: OpsReport): void {
    const at = now();
    const history = histories.get(report.instance) ?? [];
    history.push({ receivedAt: at, report });
    // Keep one report beyond the window as the base of the rates.
    while (history.length > 2 && at - history[1].receivedAt > windowMs) history.shift();
    histories.set(report.instance, history);
  }

  async function receiveLoop(inbox: string, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const message = await layer.receive(inbox, { signal });
        if (isReport(message)) accept(message);
      } catch {
        if (signal.aborted) return;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  return {
    async start() {
      if (loop) return;
      channel = await layer.newChannel("ops-reports");
      await layer.groupAdd(group, channel);
      // Membership expires (groupExpirySeconds); renewing it is cheap and survives a flushed bus.
      const inbox = channel;
      refresh = setInterval(() => void layer.groupAdd(group, inbox).catch(() => {}), 30_000);
      refresh.unref();
      abort = new AbortController();
      loop = receiveLoop(channel, abort.signal);
    },
    async stop() {
      clearInterval(refresh);
      abort.abort();
      await loop;
      loop = undefined;
      if (channel) await layer.groupDiscard(group, channel).catch(() => {});
    },
    accept,
    overview() {
      const at = now();
      for (const [instance, history] of histories) {
        if (at - history[history.length - 1].receivedAt > forgetAfterMs) histories.delete(instance);
      }
      return summariseOpsReports(histories, at, { goneAfterMs, windowMs });
    },
  };
}
