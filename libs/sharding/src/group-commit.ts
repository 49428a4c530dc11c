// Group commit's queueing, shared by every service that writes many small requests to one
// database (inventory's holds, confirmations and checkout records; payments' charges): per owner
// (the process's shard router) and key (an event, a logical or physical shard), requests queue
// while a batch of that key runs; when it ends, the next batch takes up to `max` of what queued.
// `runBatch` settles every request it is given; what a batch runs (one grouped statement, and the
// fallback to one at a time) is the caller's.
//
// Waiting for company (`wait.ms` > 0): when requests of a key arrive spread out (one every few
// milliseconds, each finding the lane idle), batches are mostly of one and cost what one request
// always cost. So a request that arrives while its key is hot (another request of the key arrived
// within the last `wait.hotMs`) waits up to `wait.ms` from its arrival, or until `max` have
// queued, before its batch starts. A quiet key never waits: the first request after an idle
// period (no arrival within `wait.hotMs`) runs at once, as with `wait.ms` = 0 (today's behaviour).

/** A queued request: at least a way to fail it. */
export interface Waiting {
  reject(error: unknown): void;
}

/** How long a hot key's batch may wait for company (ms = 0: never). */
export interface GroupWait {
  /** Most a request waits for company, counted from its arrival. 0: never waits. */
  ms: number;
  /** A key is hot when its previous request arrived at most this long before. */
  hotMs: number;
}

interface Lane<P> {
  queue: P[];
  /** Arrival time of each queued request (performance.now()), and whether the key was hot then. */
  arrivals: Array<{ at: number; hot: boolean }>;
  running: boolean;
  lastArrival: number;
  /** Set while the lane waits for company: starts the batch early (the queue reached `max`). */
  wake?: () => void;
}

export interface GroupCommit<K, P extends Waiting> {
  /** Queues `pending` under `key`; starts a batch at once when none of that key is running (see the header for `wait`). */
  enqueue(owner: object, key: K, pending: P, max: number, wait?: GroupWait): void;
}

/** Lanes idle past their hot window are forgotten once a router has more than this many. */
const PRUNE_ABOVE = 1024;

export function createGroupCommit<K, P extends Waiting>(runBatch: (batch: P[]) => Promise<void>): GroupCommit<K, P> {
  const lanes = new WeakMap<object, Map<K, Lane<P>>>();

  function company(lane: Lane<P>, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        lane.wake = undefined;
        resolve();
      }, ms);
      lane.wake = () => {
        clearTimeout(timer);
        lane.wake = undefined;
        resolve();
      };
    });
  }

  async function drain(lane: Lane<P>, max: number, wait: GroupWait | undefined): Promise<void> {
    lane.running = true;
    try {
      while (lane.queue.length > 0) {
        const head = lane.arrivals[0];
        if (wait && wait.ms > 0 && head.hot && lane.queue.length < max) {
          const left = head.at + wait.ms - performance.now();
          if (left >= 1) await company(lane, left);
        }
        const batch = lane.queue.splice(0, max);
        lane.arrivals.splice(0, batch.length);
        try {
          await runBatch(batch);
        } catch (error) {
          // Never leave a caller waiting (settling a settled promise again does nothing).
          for (const p of batch) p.reject(error);
        }
      }
    } finally {
      lane.running = false;
    }
  }

  function prune(byKey: Map<K, Lane<P>>, now: number, hotMs: number): void {
    for (const [key, lane] of byKey) if (!lane.running && lane.queue.length === 0 && now - lane.lastArrival > hotMs) byKey.delete(key);
  }

  return {
    enqueue(owner, key, pending, max, wait) {
      let byKey = lanes.get(owner);
      if (!byKey) lanes.set(owner, (byKey = new Map()));
      const now = performance.now();
      const hotMs = wait && wait.ms > 0 ? wait.hotMs : 0;
      let lane = byKey.get(key);
      if (!lane) {
        if (byKey.size >= PRUNE_ABOVE) prune(byKey, now, hotMs);
        lane = { queue: [], arrivals: [], running: false, lastArrival: -Infinity };
        byKey.set(key, lane);
      }
      const hot = now - lane.lastArrival <= hotMs;
      lane.lastArrival = now;
      lane.queue.push(pending);
      lane.arrivals.push({ at: now, hot });
      if (lane.queue.length >= max) lane.wake?.();
      // drain never rejects: every failure settles the callers it concerns.
      if (!lane.running) drain(lane, max, wait).catch(() => {});
    },
  };
}

/**
 * Splits a batch into the first request of each key (served together by one statement) and the
 * repeats (a key already in the batch), which run alone after it: one statement cannot answer two
 * requests of one idempotency key differently.
 */
export function firstOfEach<P>(batch: P[], key: (p: P) => string): { together: P[]; later: P[] } {
  const seen = new Set<string>();
  const together: P[] = [];
  const later: P[] = [];
  for (const p of batch) {
    const k = key(p);
    if (seen.has(k)) later.push(p);
    else {
      seen.add(k);
      together.push(p);
    }
  }
  return { together, later };
}

/**
 * The executor among `all` (one per physical shard) of the physical shard `sql` routes to now: a
 * batch groups the requests of one physical shard. Undefined when `sql` cannot say where it routes
 * (its `shard` throws, e.g. the map moved it) or names none of them: the request then runs alone.
 */
export function physicalExecutorOf<S extends { readonly shard: string }>(sql: { readonly shard: string }, all: readonly S[]): S | undefined {
  let name: string;
  try {
    name = sql.shard;
  } catch {
    return undefined;
  }
  return all.find((s) => s.shard === name);
}
