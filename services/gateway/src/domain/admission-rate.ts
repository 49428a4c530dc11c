// How fast the waiting room admits, set by what checkout does right now (no person sets a fixed
// threshold): every window, the p99 of an admitted buyer's checkout against the latency target.
// A checkout is a hold and its order, so the window's p99 is the holds' p99 plus the orders' p99
// (an upper bound of the purchase's p99): judging each call alone against the target let a
// purchase take twice it (the 40,000-buyer on-sale: calls under 500 ms, purchases p99 1.9-2.1 s).
// p99, not the median: the buyers the on-sale loses are the slow tail. Kept per gateway: each
// measures what it sends.
//
// - A window with a checkout shed (503: a service's BUSY/UNAVAILABLE, a deadline, this gateway's own
//   checkout bound): halve. Checkout is refusing work; nothing gentler.
// - p99 above the target: cut in proportion to the overshoot (× target/p99, at most halved), then
//   leave the next window unjudged on latency: its calls were admitted before the cut, so judging it
//   would cut again for the same congestion (what TCP does: one decrease per loss event, not per loss).
// - p99 at most half the target: double (checkout is nowhere near what slows it: find the level in a
//   few windows, not a minute); p99 under the target: a quarter more.
// - The process's own event loop (`load`): lagging past `loopLagTargetMs` cuts like a slow p99 (×
//   target/lag, at most halved), and a loop busy more than `maxUtilization` of the time never lets
//   the rate rise. Checkout's latency alone misses this: in the embedded platform one process serves
//   checkout, the room's polls and every service, and a 20,000-buyer on-sale filled its core while
//   admitted checkouts still looked fast enough — until polls, holds and orders waited past 30 s
//   unanswered (12,857 client timeouts at 100% of a core). In a distributed gateway the loop is the
//   gateway's own: admitting buyers it cannot serve helps no one either.
// A window without checkouts leaves the rate alone, and a rise never takes the rate past twice the
// admitted buyers per second who came to checkout in the window (their holds; or `initial`): a quiet event whose few
// buyers are all fast must not talk the rate up to the maximum and then let a spike in at full rate
// (TCP's congestion-window validation, RFC 7661: do not grow a window the sender is not using).
//
// Measured (BENCHMARKS.md, "Issue 13"): the controller before this halved on any window whose slowest
// call passed 500 ms (with 40–80 calls a window, the p99 is the slowest), again on the next window
// (whose calls it had admitted before the cut), and again, down to 1–3 admissions/s, then climbed
// back by a quarter per 2 s: a 20,000-seat sale at 1.25× per 2 s needs half a minute to reach even
// 100/s. Checkout itself was idle most of the time.
export interface AdmissionRateOptions {
  /** Admissions per second at start. Default 20. */
  readonly initial: number;
  /** Never below (a room always moves). Default 1. */
  readonly min: number;
  /** Never above. Default 500. */
  readonly max: number;
  /** p99 of a checkout (a hold's p99 plus an order's) in a window above this cuts admissions. Default 500 ms. */
  readonly latencyTargetMs: number;
  /** How often the rate is reconsidered. Default 2000 ms. */
  readonly windowMs: number;
  /** The event loop's lag above which admissions are cut. Default 100 ms. */
  readonly loopLagTargetMs: number;
  /** Share of time the event loop may be busy for the rate to still rise. Default 0.85. */
  readonly maxUtilization: number;
  /** The process's event loop now (the last second): lag beyond its timer resolution, and busy share. */
  readonly load?: () => LoopLoad;
  readonly now?: () => number;
  /** Each judged window: the rate before and after, and what it was judged on (for logs and traces). */
  readonly onWindow?: (window: AdmissionWindow) => void;
}

export interface LoopLoad {
  lagMs: number;
  utilization: number;
}

export interface AdmissionWindow {
  previous: number;
  rate: number;
  /** Checkout calls that finished in the window (shed ones not counted). */
  samples: number;
  /** The holds' p99 plus the orders' p99 (either alone when the window had only that kind). */
  p99Ms: number | null;
  overloads: number;
  /** The event loop at the judgement, when the controller is told of it. */
  loop: LoopLoad | null;
  /** What the window was judged on (the branch taken above). */
  decision: AdmissionDecision;
}

/**
 * Why a window moved the rate, or did not: `shed` (a checkout was shed: halved), `settling` (the
 * window after a cut, not judged on latency), `loop_lag` and `slow` (cut for the event loop's lag or
 * the checkout p99), `rise` (raised), `held` (under the target, but the loop is full or the rate is
 * already twice what buyers used). A window with no checkout, no shed and no lag is not judged.
 */
export type AdmissionDecision = "shed" | "settling" | "loop_lag" | "slow" | "rise" | "held";

export const DEFAULT_ADMISSION_RATE_OPTIONS: AdmissionRateOptions = { initial: 20, min: 1, max: 500, latencyTargetMs: 500, windowMs: 2000, loopLagTargetMs: 100, maxUtilization: 0.85 };

export interface AdmissionRate {
  /** One checkout call of an admitted buyer: its latency and whether it was shed (503) or timed out. */
  /**
   * One checkout call of an admitted buyer: its latency, whether it was shed (503) or timed out, and
   * whether it is the hold that starts a purchase (each admitted buyer's first call) or a later one.
   */
  observe(latencyMs: number, overloaded: boolean, call?: "hold" | "order"): void;
  /** Admissions per second now. */
  current(): number;
}

/** The 99th percentile (nearest rank) of latencies (sorts them); 0 for none. */
function checkoutP99(latencies: number[]): number {
  if (latencies.length === 0) return 0;
  latencies.sort((a, b) => a - b);
  return latencies[Math.min(latencies.length - 1, Math.ceil(latencies.length * 0.99) - 1)];
}

export function createAdmissionRate(options: Partial<AdmissionRateOptions> = {}): AdmissionRate {
  const settings = { ...DEFAULT_ADMISSION_RATE_OPTIONS, ...options };
  const now = settings.now ?? Date.now;
  let rate = settings.initial;
  let windowStart = now();
  /** The window's latencies of holds and of orders (a checkout is one of each). */
  let holdSamples: number[] = [];
  let orderSamples: number[] = [];
  let overloads = 0;
  let holds = 0;

  /** The window after a latency cut: its calls were admitted before the cut, so its latency is not judged. */
  let settling = false;

  function reconsider(): void {
    if (now() - windowStart < settings.windowMs) return;
    const previous = rate;
    const calls = holdSamples.length + orderSamples.length;
    const p99 = calls > 0 ? checkoutP99(holdSamples) + checkoutP99(orderSamples) : null;
    const target = settings.latencyTargetMs;
    const loop = settings.load?.() ?? null;
    const loopLagging = loop !== null && loop.lagMs > settings.loopLagTargetMs;
    const loopFull = loop !== null && (loop.utilization > settings.maxUtilization || loop.lagMs > settings.loopLagTargetMs / 2);
    let decision: AdmissionDecision = "held";
    if (overloads > 0) {
      rate = rate / 2;
      decision = "shed";
    } else if ((p99 !== null || loopLagging) && settling) {
      settling = false;
      decision = "settling";
    } else if (loopLagging) {
      rate = rate * Math.max(0.5, settings.loopLagTargetMs / loop.lagMs);
      settling = true;
      decision = "loop_lag";
    } else if (p99 !== null && p99 > target) {
      rate = rate * Math.max(0.5, target / p99);
      settling = true;
      decision = "slow";
    } else if (p99 !== null && !loopFull) {
      // In admissions: buyers who came to checkout (their holds) per second, not calls (a purchase
      // is a hold and an order, and counting both let the rate run to four times what was used).
      const usedPerSecond = holds / (Math.max(now() - windowStart, 1) / 1000);
      const used = Math.max(settings.initial, 2 * usedPerSecond);
      rate = Math.max(rate, Math.min(rate * (p99 <= target / 2 ? 2 : 1.25), used));
      if (rate > previous) decision = "rise";
    }
    rate = Math.min(settings.max, Math.max(settings.min, rate));
    if (calls > 0 || overloads > 0 || loopLagging) settings.onWindow?.({ previous, rate, samples: calls, p99Ms: p99, overloads, loop, decision });
    windowStart = now();
    holdSamples = [];
    orderSamples = [];
    holds = 0;
    overloads = 0;
  }

  return {
    observe(latencyMs, overloaded, call = "hold") {
      // A window that ended is judged first: this call belongs to the next one.
      reconsider();
      if (call === "hold" && !overloaded) holds++;
      if (overloaded) overloads++;
      else {
        const kind = call === "order" ? orderSamples : holdSamples;
        if (kind.length < 10_000) kind.push(latencyMs);
      }
    },
    current() {
      reconsider();
      return rate;
    },
  };
}

/**
 * Whether a waiting buyer's ask may admit them right now. While this gateway's event loop lags past
 * `lagTargetMs` (the last second's mean delay beyond the sampler's resolution), a checkout it admits
 * now waits behind that lag at every step: in the on-sale benches the buyers admitted during the
 * arrival flood (thousands of joins a second) took 1.2-2.5 s per purchase — the slowest fraction
 * of a percent of all purchases, the p99's tail — while the window-by-window rate took 2 s to react.
 * Closed, the gate lets one ask a second through (`passEveryMs`), so a room always moves however
 * long the lag lasts. The rate's tokens keep filling up to their usual small bucket meanwhile.
 */
export function createAdmissionGate(options: { lagMs: () => number; lagTargetMs: number; passEveryMs?: number; now?: () => number }): () => boolean {
  const now = options.now ?? Date.now;
  const passEveryMs = options.passEveryMs ?? 1000;
  let passedAt = -Infinity;
  return () => {
    if (options.lagMs() <= options.lagTargetMs) return true;
    const at = now();
    if (at - passedAt < passEveryMs) return false;
    passedAt = at;
    return true;
  };
}
