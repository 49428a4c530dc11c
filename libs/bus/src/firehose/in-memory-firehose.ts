// The firehose inside one process, with the Redis Streams semantics (positions, groups, pending
// entries, idle claims, bounded retention), so the embedded host and tests behave like production.
import { createFirehoseOver } from "./firehose-engine.ts";
import type { FirehoseBackend, StoredEntry, StreamReader } from "./firehose-backend.ts";
import { DEFAULT_FIREHOSE_OPTIONS, type DeadLetterInfo, type Firehose, type FirehoseEvent, type FirehoseOptions } from "./types.ts";

interface MemoryEntry {
  seq: number;
  event: FirehoseEvent;
  deadLetter?: DeadLetterInfo;
}

interface Pending {
  entry: MemoryEntry;
  consumer: string;
  deliveredAt: number;
  deliveries: number;
}

interface MemoryGroup {
  /** Sequence number of the last entry handed out to the group. */
  lastDelivered: number;
  pending: Map<number, Pending>;
}

interface MemoryStream {
  entries: MemoryEntry[];
  nextSeq: number;
  groups: Map<string, MemoryGroup>;
  /** Woken on every append. */
  waiters: Set<() => void>;
}

const POSITION = /^\d+$/;

export function createInMemoryFirehose(options: FirehoseOptions = {}): Firehose {
  const maxLen = options.maxLen ?? DEFAULT_FIREHOSE_OPTIONS.maxLen;
  const streams = new Map<string, MemoryStream>();

  function streamOf(name: string): MemoryStream {
    let stream = streams.get(name);
    if (!stream) {
      stream = { entries: [], nextSeq: 1, groups: new Map(), waiters: new Set() };
      streams.set(name, stream);
    }
    return stream;
  }

  function stored(entry: MemoryEntry, attempt: number): StoredEntry {
    // A structured copy, as a real store would give: handlers cannot mutate what others see.
    const result: StoredEntry = { position: String(entry.seq), event: structuredClone(entry.event), attempt };
    if (entry.deadLetter) result.deadLetter = { ...entry.deadLetter };
    return result;
  }

  function append(name: string, event: FirehoseEvent, deadLetter?: DeadLetterInfo): string {
    const stream = streamOf(name);
    const entry: MemoryEntry = { seq: stream.nextSeq++, event: structuredClone(event) };
    if (deadLetter) entry.deadLetter = deadLetter;
    stream.entries.push(entry);
    if (stream.entries.length > maxLen) stream.entries.splice(0, stream.entries.length - maxLen);
    for (const wake of [...stream.waiters]) wake();
    return String(entry.seq);
  }

  /** Entries with seq > after, oldest first (binary search: entries are sorted by seq). */
  function after(stream: MemoryStream, seq: number, count: number): MemoryEntry[] {
    let lo = 0;
    let hi = stream.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (stream.entries[mid].seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return stream.entries.slice(lo, lo + count);
  }

  function groupOf(name: string, group: string): MemoryGroup {
    const found = streamOf(name).groups.get(group);
    if (!found) throw new Error(`NOGROUP no consumer group ${group} on stream ${name}`);
    return found;
  }

  const backend: FirehoseBackend = {
    async append(name, event) {
      return append(name, event);
    },
    async lastPosition(name) {
      const entries = streamOf(name).entries;
      return entries.length ? String(entries[entries.length - 1].seq) : "0";
    },
    earliestPosition: "0",
    isPosition: (value) => POSITION.test(value),
    async ensureGroup(name, group) {
      const stream = streamOf(name);
      // A new group starts before everything retained, like XGROUP CREATE … 0.
      if (!stream.groups.has(group)) stream.groups.set(group, { lastDelivered: 0, pending: new Map() });
    },
    async claimIdle(name, group, consumer, idleMs, count) {
      const state = groupOf(name, group);
      const now = Date.now();
      const claimed: StoredEntry[] = [];
      for (const pending of state.pending.values()) {
        if (claimed.length >= count) break;
        if (now - pending.deliveredAt < idleMs) continue;
        pending.consumer = consumer;
        pending.deliveredAt = now;
        pending.deliveries += 1;
        claimed.push(stored(pending.entry, pending.deliveries));
      }
      return claimed;
    },
    async ack(name, group, positions) {
      const state = groupOf(name, group);
      for (const position of positions) state.pending.delete(Number(position));
    },
    async deadLetter(name, group, entry, reason) {
      append(`${name}.dead-letter`, entry.event, { group, attempts: entry.attempt, position: entry.position, reason });
      groupOf(name, group).pending.delete(Number(entry.position));
    },
    openReader(): StreamReader {
      let closed = false;
      const wakers = new Set<() => void>();
      async function waitFor<T>(name: string, take: () => T[], blockMs: number): Promise<T[]> {
        const first = take();
        if (first.length || closed) return first;
        const stream = streamOf(name);
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            stream.waiters.delete(done);
            wakers.delete(done);
            resolve();
          };
          const timer = setTimeout(done, blockMs);
          stream.waiters.add(done);
          wakers.add(done);
        });
        return closed ? [] : take();
      }
      return {
        read(name, position, count, blockMs) {
          const stream = streamOf(name);
          return waitFor(name, () => after(stream, Number(position), count).map((entry) => stored(entry, 1)), blockMs);
        },
        readGroup(name, group, consumer, count, blockMs) {
          const stream = streamOf(name);
          return waitFor(
            name,
            () => {
              const state = groupOf(name, group);
              const fresh = after(stream, state.lastDelivered, count);
              const now = Date.now();
              for (const entry of fresh) {
                state.lastDelivered = entry.seq;
                state.pending.set(entry.seq, { entry, consumer, deliveredAt: now, deliveries: 1 });
              }
              return fresh.map((entry) => stored(entry, 1));
            },
            blockMs,
          );
        },
        close() {
          closed = true;
          for (const wake of [...wakers]) wake();
        },
      };
    },
    async close() {
      for (const stream of streams.values()) for (const wake of [...stream.waiters]) wake();
    },
  };
  return createFirehoseOver(backend);
}
