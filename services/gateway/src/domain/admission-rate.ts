// How fast the waiting room admits, set by what checkout does right now (no person sets a fixed
// threshold): every window, if the p99 of admitted buyers' checkout calls stayed under the latency
// target and nothing was shed, admit a quarter more; if that p99 rose above the target or checkout
// answered 503 (shed by a service, a deadline, or this gateway's own checkout bound), halve it (the
// way TCP finds a link's capacity: multiplicative decrease, gentler increase). p99, not the median:
// the buyers the on-sale loses are the slow tail. Kept per gateway: each measures what it sends.

export interface AdmissionRateOptions {
  /** Admissions per second at start. Default 20. */
  readonly initial: number;
  /** Never below (a room always moves). Default 1. */
  readonly min: number;
  /** Never above. Default 500. */
  readonly max: number;
  /** p99 of checkout calls (hold, order) in a window above this halves admissions. Default 500 ms. */
  readonly latencyTargetMs: number;
  /** How often the rate is reconsidered. Default 2000 ms. */
  readonly windowMs: number;
  readonly now?: () => number;
}

export const DEFAULT_ADMISSION_RATE_OPTIONS: AdmissionRateOptions = { initial: 20, min: 1, max: 500, latencyTargetMs: 500, windowMs: 2000 };

export interface AdmissionRate {
  /** One checkout call of an admitted buyer: its latency and whether it was shed (503) or timed out. */
  observe(latencyMs: number, overloaded: boolean): void;
  /** Admissions per second now. */
  current(): number;
}

/** The 99th percentile (nearest rank) of sorted latencies. */
function checkoutP99(sorted: number[]): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)];
}

export function createAdmissionRate(options: Partial<AdmissionRateOptions> = {}): AdmissionRate {
  const settings = { ...DEFAULT_ADMISSION_RATE_OPTIONS, ...options };
  const now = settings.now ?? Date.now;
  let rate = settings.initial;
  let windowStart = now();
  let samples: number[] = [];
  let overloads = 0;

  function reconsider(): void {
    if (now() - windowStart < settings.windowMs) return;
    if (overloads > 0) {
      rate = Math.max(settings.min, rate / 2);
    } else if (samples.length > 0) {
      samples.sort((a, b) => a - b);
      rate = checkoutP99(samples) > settings.latencyTargetMs ? Math.max(settings.min, rate / 2) : Math.min(settings.max, rate * 1.25);
    }
    windowStart = now();
    samples = [];
    overloads = 0;
  }

  return {
    observe(latencyMs, overloaded) {
      // A window that ended is judged first: this call belongs to the next one.
      reconsider();
      if (overloaded) overloads++;
      else if (samples.length < 10_000) samples.push(latencyMs);
    },
    current() {
      reconsider();
      return rate;
    },
  };
}
