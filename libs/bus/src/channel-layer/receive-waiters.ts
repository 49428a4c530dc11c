// The receivers waiting on each channel of one layer instance, in arrival order. A waiter leaves
// the queue the moment it times out or aborts, so a message can only ever be handed to a waiter
// that still wants it: that is what makes an abandoned receive lose nothing.
import { InvalidOptionError, ReceiveTimeoutError } from "./errors.ts";
import type { Message, ReceiveOptions } from "./types.ts";

export interface Waiter {
  readonly channel: string;
  /** Most messages this waiter takes at once: 1 for receive, more for receiveMany. */
  readonly max: number;
  /** Hands over 1 to `max` messages, oldest first. */
  deliver(messages: Message[]): void;
  fail(error: unknown): void;
}

/**
 * What to run when a signal aborts, per signal. A receive loop passes the same long-lived signal
 * to every receive: one listener per signal, and a Set entry per waiting receive, cost less than
 * an addEventListener and a removeEventListener per receive.
 */
const abortWatchers = new WeakMap<AbortSignal, Set<() => void>>();

function watchAbort(signal: AbortSignal, onAbort: () => void): void {
  let watchers = abortWatchers.get(signal);
  if (!watchers) {
    const set = (watchers = new Set());
    abortWatchers.set(signal, set);
    signal.addEventListener(
      "abort",
      () => {
        abortWatchers.delete(signal);
        for (const watcher of set) watcher();
      },
      { once: true },
    );
  }
  watchers.add(onAbort);
}

export class ReceiveWaiters {
  readonly #byChannel = new Map<string, Waiter[]>();

  /** Waiters on `channel`, oldest first (empty array when none). */
  peek(channel: string): readonly Waiter[] {
    return this.#byChannel.get(channel) ?? [];
  }

  /** True when nobody waits on any channel. */
  get empty(): boolean {
    return this.#byChannel.size === 0;
  }

  /** Messages the waiting receives would take, over all channels. */
  total(): number {
    let sum = 0;
    for (const list of this.#byChannel.values()) for (const waiter of list) sum += waiter.max;
    return sum;
  }

  has(channel: string): boolean {
    return this.#byChannel.has(channel);
  }

  /** Removes and returns the oldest waiter on `channel`. */
  take(channel: string): Waiter | undefined {
    const list = this.#byChannel.get(channel);
    if (!list) return undefined;
    const waiter = list.shift();
    if (list.length === 0) this.#byChannel.delete(channel);
    return waiter;
  }

  channels(): IterableIterator<string> {
    return this.#byChannel.keys();
  }

  count(channel: string): number {
    return this.#byChannel.get(channel)?.length ?? 0;
  }

  /** Rejects every waiter (close, connection loss) and forgets them. */
  failAll(error: unknown, filter: (channel: string) => boolean = () => true): void {
    for (const [channel, list] of [...this.#byChannel]) {
      if (!filter(channel)) continue;
      this.#byChannel.delete(channel);
      for (const waiter of list) waiter.fail(error);
    }
  }

  /**
   * Queues a waiter on `channel`; resolves with the message handed to it, or rejects on timeout
   * or abort after removing itself. `onQueued` runs once the waiter is queued.
   */
  wait(channel: string, options: ReceiveOptions, onQueued: () => void): Promise<Message> {
    return this.#enqueue(channel, options, onQueued, 1, (messages) => messages[0]);
  }

  /** As `wait`, for up to `max` messages at once. */
  waitMany(channel: string, options: ReceiveOptions, max: number, onQueued: () => void): Promise<Message[]> {
    return this.#enqueue(channel, options, onQueued, max, (messages) => messages);
  }

  #enqueue<T>(channel: string, options: ReceiveOptions, onQueued: () => void, max: number, result: (messages: Message[]) => T): Promise<T> {
    const { signal, timeoutMs } = options;
    if (timeoutMs !== undefined && (typeof timeoutMs !== "number" || !(timeoutMs >= 0))) {
      return Promise.reject(new InvalidOptionError("timeoutMs", `must be a non-negative number, got ${String(timeoutMs)}`));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        if (signal) abortWatchers.get(signal)?.delete(onAbort);
      };
      const waiter: Waiter = {
        channel,
        max,
        deliver: (messages) => {
          cleanup();
          resolve(result(messages));
        },
        fail: (error) => {
          cleanup();
          reject(error);
        },
      };
      const leave = (error: unknown) => {
        const list = this.#byChannel.get(channel);
        const index = list ? list.indexOf(waiter) : -1;
        if (index < 0) return; // already handed a message or failed
        list!.splice(index, 1);
        if (list!.length === 0) this.#byChannel.delete(channel);
        waiter.fail(error);
      };
      const onAbort = () => leave(signal!.reason);
      let list = this.#byChannel.get(channel);
      if (!list) this.#byChannel.set(channel, (list = []));
      list.push(waiter);
      if (signal) watchAbort(signal, onAbort);
      if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => leave(new ReceiveTimeoutError(channel, timeoutMs)), timeoutMs);
      }
      onQueued();
    });
  }
}

/** Checks receiveMany's `max` (default 64). */
export function maxOf(options: { max?: unknown } | undefined): number {
  const max = options?.max ?? DEFAULT_RECEIVE_MANY_MAX;
  if (typeof max !== "number" || !Number.isInteger(max) || max < 1) throw new InvalidOptionError("max", `must be a positive integer, got ${String(max)}`);
  return max;
}

export const DEFAULT_RECEIVE_MANY_MAX = 64;
