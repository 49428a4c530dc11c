// The queueing both group commits share (hold-batcher.ts, confirm-batcher.ts): per owner (the
// process's shard router) and key (an event, a logical shard), requests queue while a batch of that
// key runs; when it ends, the next batch takes up to `max` of what queued. No timer: a quiet key never
// waits, a hot one runs far fewer transactions. `runBatch` settles every request it is given.

/** A queued request: at least a way to fail it. */
export interface Waiting {
  reject(error: unknown): void;
}

interface Lane<P> {
  queue: P[];
  running: boolean;
}

export interface GroupCommit<K, P extends Waiting> {
  /** Queues `pending` under `key`; starts a batch at once when none of that key is running. */
  enqueue(owner: object, key: K, pending: P, max: number): void;
}

export function createGroupCommit<K, P extends Waiting>(runBatch: (batch: P[]) => Promise<void>): GroupCommit<K, P> {
  const lanes = new WeakMap<object, Map<K, Lane<P>>>();

  async function drain(byKey: Map<K, Lane<P>>, key: K, lane: Lane<P>, max: number): Promise<void> {
    lane.running = true;
    try {
      while (lane.queue.length > 0) {
        const batch = lane.queue.splice(0, max);
        try {
          await runBatch(batch);
        } catch (error) {
          // Never leave a caller waiting (settling a settled promise again does nothing).
          for (const p of batch) p.reject(error);
        }
      }
    } finally {
      lane.running = false;
      if (byKey.get(key) === lane) byKey.delete(key);
    }
  }

  return {
    enqueue(owner, key, pending, max) {
      let byKey = lanes.get(owner);
      if (!byKey) lanes.set(owner, (byKey = new Map()));
      const lane = byKey.get(key) ?? { queue: [], running: false };
      byKey.set(key, lane);
      lane.queue.push(pending);
      // drain never rejects: every failure settles the callers it concerns.
      if (!lane.running) drain(byKey, key, lane, max).catch(() => {});
    },
  };
}
