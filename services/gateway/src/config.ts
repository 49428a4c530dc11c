// The gateway's environment, parsed once. Everything has a default that works on a laptop; the
// same names are what compose and Kubernetes manifests set.
import { admissionKeysSchema } from "@boxoffice/identity";
import { commonConfigShape, envBoolean, parseConfig } from "@boxoffice/runtime";
import { isIP } from "node:net";
import { z } from "zod";

/** A comma-separated list of 64-hex-digit keys: the first encrypts new cookies, all decrypt (rotation). */
const sessionKeys = z
  .string()
  .transform((value) => value.split(",").map((key) => key.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^[0-9a-fA-F]{64}$/, "each session key is 32 bytes as 64 hex digits")).min(1));

const trustProxy = z
  .string()
  .trim()
  .transform((value, ctx): false | number | string => {
    if (["false", "no", "0", ""].includes(value)) return false;
    if (/^[0-9]+$/.test(value)) return Number(value);
    const entries = value.split(",").map((e) => e.trim());
    if (entries.every((e) => isIP(e.split("/")[0]) !== 0 && (!e.includes("/") || /^[0-9]{1,3}$/.test(e.split("/")[1])))) return entries.join(",");
    ctx.addIssue({
      code: "custom",
      message: value === "true" || value === "yes"
        ? 'name how many proxies are in front (e.g. "1") or their addresses/CIDRs: "true" would believe any client\'s X-Forwarded-For'
        : 'expected "false", a hop count, or comma-separated IP addresses/CIDRs',
    });
    return z.NEVER;
  });

const operationsAllow = z
  .string()
  .trim()
  .transform((value, ctx): "any" | string[] => {
    if (value === "any" || value === "") return "any";
    const entries = value.split(",").map((e) => e.trim()).filter(Boolean);
    if (entries.every((e) => isIP(e.split("/")[0]) !== 0 && (!e.includes("/") || /^[0-9]{1,3}$/.test(e.split("/")[1])))) return entries;
    ctx.addIssue({ code: "custom", message: 'expected "any" or comma-separated IP addresses/CIDRs' });
    return z.NEVER;
  });

export const gatewayConfigSchema = z.object({
  ...commonConfigShape,
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  HOST: z.string().default("127.0.0.1"),
  /** Session cookie keys; the embedded platform generates and persists them when unset. */
  SESSION_KEYS: sessionKeys,
  /** Seconds a session lasts after sign-in. */
  SESSION_TTL_SECONDS: z.coerce.number().int().min(60).default(7 * 24 * 3600),
  /**
   * How long this gateway reuses "this session was not signed out" from the shared revocation list
   * (Redis) before asking again; a sign-out made on this gateway counts here at once. So a cookie
   * signed out on another gateway is refused everywhere within this bound. 0: ask on every request.
   * Default 1000.
   */
  SESSION_REVOCATION_CACHE_MS: z.coerce.number().int().min(0).max(1000).default(1000),
  /**
   * Which proxies' X-Forwarded-For/-Proto to believe (Secure cookies behind TLS termination, the
   * client address that sign-in limits count): "false" (none, default), a hop count ("1": the one
   * load balancer in front), or a comma-separated list of proxy addresses/CIDRs. Not "true": that
   * believes every hop, so any client could choose its own address by sending the header.
   */
  TRUST_PROXY: trustProxy.default(false),
  /** Largest request body accepted; larger ones get 413. */
  BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).default(64 * 1024),
  /** Lifetime of the catalogue cache entries (event list and event page). */
  CATALOGUE_CACHE_TTL_MS: z.coerce.number().int().min(0).default(1000),
  /**
   * After availability changes (a hold, an order, inventory's availability event), how long a cached
   * page may still be served: a hot event's page is then loaded a few times a second during an
   * on-sale, not after every hold. Changes to the event itself (title, times) drop it at once.
   */
  CATALOGUE_STALE_AFTER_CHANGE_MS: z.coerce.number().int().min(0).default(250),
  /** The server closes each live socket after this long (plus jitter) so load rebalances. */
  LIVE_SOCKET_LIFETIME_MS: z.coerce.number().int().min(1000).default(5 * 60_000),
  LIVE_SOCKET_JITTER_MS: z.coerce.number().int().min(0).default(60_000),
  /**
   * Who may read /metrics and /docs: "any" (default), or comma-separated client addresses/CIDRs
   * (e.g. the cluster's pod range for Prometheus); everyone else gets 404. Uses the client address
   * TRUST_PROXY establishes.
   */
  OPERATIONS_ALLOW: operationsAllow.default("any"),
  /** Serve the OpenAPI UI at /docs. */
  SERVE_DOCS: envBoolean.default(true),
  /** Live sockets one client address may hold open on this instance; more get 429 before the upgrade. */
  LIVE_SOCKETS_PER_ADDRESS: z.coerce.number().int().min(1).default(20),
  /** Live sockets this instance holds open in all; more get 503 BUSY with Retry-After before the upgrade. */
  LIVE_SOCKETS_MAX: z.coerce.number().int().min(1).default(10_000),
  /**
   * Failed sign-ins per email and address within the window on this instance before it answers 429
   * RATE_LIMITED itself. Default 20: a backstop above the users service's limit (5, then waits that
   * double, shared by every instance), so the growing Retry-After of users is what clients see.
   */
  SIGN_IN_MAX_FAILURES: z.coerce.number().int().min(1).default(20),
  SIGN_IN_WINDOW_SECONDS: z.coerce.number().int().min(1).default(300),
  /**
   * Accounts one client address may create per hour, per gateway instance (429 RATE_LIMITED with
   * Retry-After beyond it), so one script cannot mint the thousands of buyers it would take to hold a
   * stadium. Unset: 300 with NODE_ENV=production; no limit otherwise, because local load tests and
   * benches sign up thousands of buyers from 127.0.0.1.
   */
  SIGN_UPS_PER_ADDRESS_PER_HOUR: z.coerce.number().int().min(1).optional(),
  /** Seconds suggested to clients in Retry-After when the bus sheds load. */
  BUSY_RETRY_AFTER_SECONDS: z.coerce.number().int().min(1).default(2),
  /**
   * Retry-After of a hold or an order shed at this gateway's checkout bound (INFLIGHT_MAX_CHECKOUT).
   * Those are admitted buyers, and the bound is checkout requests in progress, which drain in a
   * fraction of a second: asking them back after the BUSY default (2 s) made each such 503 the
   * purchase's p99 (the 40,000-buyer on-sale: 570 of them, p99 2.6 s).
   */
  CHECKOUT_BUSY_RETRY_AFTER_SECONDS: z.coerce.number().int().min(1).default(1),
  /**
   * Where the waiting rooms live: "memory://" (this process only: the embedded platform) or a
   * redis:// URL shared by every gateway. Default: the first Redis of BUS_URL, else memory.
   */
  ROOM_URL: z.string().regex(/^(memory:\/\/|rediss?:\/\/)/, "memory:// or redis://…").optional(),
  /**
   * Keys that sign waiting-room admissions (inventory's ADMISSION_KEYS, the same list). Unset: a
   * key made up at start (fine for one process; every gateway of a platform needs the same keys).
   */
  ADMISSION_KEYS: admissionKeysSchema.optional(),
  /** How long an admission lets a buyer hold and pay (an order ends it early). Default 600. */
  ADMISSION_TTL_SECONDS: z.coerce.number().int().min(10).max(86_400).default(600),
  /** Admissions per second at start; the room then adapts it to checkout's measured latency. */
  ADMISSION_RATE_INITIAL: z.coerce.number().min(0.1).max(100_000).default(20),
  ADMISSION_RATE_MIN: z.coerce.number().min(0.1).max(100_000).default(1),
  ADMISSION_RATE_MAX: z.coerce.number().min(0.1).max(100_000).default(500),
  /**
   * p99 latency (ms, per 2 s window) of admitted buyers' holds and orders above which admissions are
   * cut. 250 was tried (a purchase is two calls): checkout-cost measured the same checkout p99 (401
   * against 425 ms) with 45 instead of 66 orders/s and 21.4 instead of 17.7 ms of CPU per order
   * (smaller group commits), so 500.
   */
  CHECKOUT_LATENCY_TARGET_MS: z.coerce.number().int().min(1).default(500),
  /** This process's event-loop lag (ms, mean over a second beyond the sampler's period) above which admissions are cut. */
  ADMISSION_LOOP_LAG_TARGET_MS: z.coerce.number().min(1).default(100),
  /** Busy share of this process's event loop above which admissions no longer rise (0–1). */
  ADMISSION_MAX_LOOP_UTILIZATION: z.coerce.number().gt(0).max(1).default(0.85),
  /** Buyers admitted at once at most per event (the organiser may cap lower). */
  ADMISSION_MAX_CONCURRENT: z.coerce.number().int().min(1).default(5000),
  /**
   * A waiting room nobody used for this long is forgotten (its Redis keys expire), never before the
   * event opens or its last admission ends. Default 3600.
   */
  ROOM_IDLE_TTL_SECONDS: z.coerce.number().int().min(1).default(3600),
  /** A sold-out room is forgotten this long after it sold out (never before its last admission ends). Default 900. */
  ROOM_SOLD_OUT_TTL_SECONDS: z.coerce.number().int().min(1).default(900),
  /**
   * Waiting buyers are told when to ask again (pollAfterSeconds, half the expected wait) as if the room
   * admitted at least this many buyers a second, whatever the controller's rate is now: it starts at
   * ADMISSION_RATE_INITIAL and an arrival flood cuts it, and buyers told by that rate came back 90–120 s
   * later while the room, already at 200 a second, had nobody to admit (store/room-store.ts,
   * pollRateOf). About what checkout serves at full load on one small machine. 0: the controller's rate alone.
   */
  QUEUE_POLL_RATE_FLOOR: z.coerce.number().min(0).max(100_000).default(100),
  /** Polls sooner than pollAfterSeconds tolerated in a row before 429 RATE_LIMITED. */
  QUEUE_EARLY_POLL_ALLOWANCE: z.coerce.number().int().min(0).default(3),
  /** Queue joins per client address per minute (per gateway) before 429 RATE_LIMITED. */
  QUEUE_JOINS_PER_ADDRESS_PER_MINUTE: z.coerce.number().int().min(1).default(120),
  /** Requests in progress per route class before 503 BUSY at once (checkout, queue, other). */
  INFLIGHT_MAX_CHECKOUT: z.coerce.number().int().min(1).default(256),
  INFLIGHT_MAX_QUEUE: z.coerce.number().int().min(1).default(4096),
  INFLIGHT_MAX_OTHER: z.coerce.number().int().min(1).default(1024),
  /**
   * Connections the kernel may hold completed but not yet accepted (capped by net.core.somaxconn).
   * Node's default, 511, overflowed in the 40,000-buyer on-sale: while the event loop was busy, new
   * connections were dropped and clients saw timeouts and resets instead of an answer (or a 503).
   */
  LISTEN_BACKLOG: z.coerce.number().int().min(1).max(65_535).default(4096),
  /**
   * How long an idle client connection is kept (seconds). Longer than the waiting room's longest
   * pollAfterSeconds (120), so a waiting buyer's next poll finds its connection open: a busy Node
   * process accepts about one new connection per event-loop turn (~60 a second in the embedded
   * 40,000-buyer on-sale), and polls that each needed a fresh connection waited in the accept queue
   * past the client's 30 s. Default 150.
   */
  KEEP_ALIVE_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(3600).default(150),
  /**
   * Behind a trusted load balancer (TRUST_PROXY) that stamps X-Request-Start (nginx: `t=${msec}`), an
   * API request that waited longer than this between the balancer and the gateway's first look (in
   * its socket, behind a busy event loop) gets 503 BUSY at once: its client has likely given up or is
   * about to, and the work would crowd out requests still wanted. Default 10000 (a third of a typical
   * client's 30 s). The balancer's clock and the gateway's must agree to well within this (same host,
   * or NTP): a balancer whose clock runs behind by more would have every request shed.
   */
  REQUEST_QUEUE_MAX_MS: z.coerce.number().int().min(1).default(10_000),
  /** Mean event-loop delay (ms, over the last second) above which new API requests get 503 BUSY. */
  EVENT_LOOP_MAX_DELAY_MS: z.coerce.number().int().min(10).default(1000),
  /** Serve the browser UI (built by Vite on start when missing or stale). */
  SERVE_WEB: envBoolean.default(true),
});

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;

/** Parses the environment once; a bad value fails fast naming the variable. */
export function loadGatewayConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  return parseConfig("gateway", gatewayConfigSchema, env);
}
