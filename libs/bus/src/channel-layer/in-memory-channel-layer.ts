// The channel layer inside one process: the embedded default and the fixture of every test that
// does not need Redis. Same semantics as the Redis layer, including process-local inboxes that
// share one capacity and store one message per group send for all their member channels.
import { BusUnavailableError, ChannelFullError } from "./errors.ts";
import { createMessageCodec } from "./codec.ts";
import { createChannelNamer, newInstanceId } from "./local-channels.ts";
import { assertChannelName, assertGroupName, nonLocalPart } from "./names.ts";
import { resolveOptions } from "./options.ts";
import { maxOf, ReceiveWaiters } from "./receive-waiters.ts";
import type { ChannelLayer, ChannelLayerOptions, ChannelLayerStats, Message, ReceiveManyOptions, ReceiveOptions } from "./types.ts";

interface Entry {
  expiresAt: number;
  data: Uint8Array;
  /** For a process-local inbox: the local parts that still have to read this entry. */
  locals: string[] | null;
}

export function createInMemoryChannelLayer(options: ChannelLayerOptions = {}): ChannelLayer {
  const opts = resolveOptions(options);
  const codec = createMessageCodec();
  const namer = createChannelNamer(newInstanceId());
  const waiters = new ReceiveWaiters();
  // Normal channels keyed by name; process-local channels keyed by their non-local part (inbox).
  const queues = new Map<string, Entry[]>();
  const groups = new Map<string, Map<string, number>>();
  const stats: ChannelLayerStats = { groupSendSkippedFull: 0, expiredDropped: 0, undecodableDropped: 0, localBufferDropped: 0 };
  let closed = false;

  const ensureOpen = () => {
    if (closed) throw new BusUnavailableError("the channel layer is closed");
  };

  const purgeExpired = (key: string, queue: Entry[], now: number) => {
    if (queue.every((e) => e.expiresAt > now)) return queue;
    const kept = queue.filter((e) => e.expiresAt > now);
    stats.expiredDropped += queue.length - kept.length;
    if (kept.length) queues.set(key, kept);
    else queues.delete(key);
    return kept;
  };

  /**
   * Stores `data` for `channels` (all normal and equal to `key`, or all local channels of the inbox
   * `key`); channels with a waiting receiver get it at once. Returns false when the queue is full.
   */
  const deliver = (key: string, channels: string[], local: boolean, data: Uint8Array, capacity: number): boolean => {
    const remaining: string[] = [];
    for (const channel of channels) {
      const waiter = waiters.take(channel);
      if (waiter) waiter.deliver([codec.decode(data)]);
      else remaining.push(channel);
    }
    if (remaining.length === 0) return true;
    const now = Date.now();
    const queue = purgeExpired(key, queues.get(key) ?? [], now);
    if (queue.length >= capacity) return false;
    queue.push({ expiresAt: now + opts.expiryMs, data, locals: local ? remaining.map((c) => c.slice(key.length)) : null });
    queues.set(key, queue);
    return true;
  };

  // Channels nobody reads again would otherwise keep their expired messages forever.
  let sendsSinceSweep = 0;
  const sweep = () => {
    if (++sendsSinceSweep < 1000) return;
    sendsSinceSweep = 0;
    const now = Date.now();
    for (const [key, queue] of queues) purgeExpired(key, queue, now);
    for (const [group, members] of groups) {
      for (const [channel, expiresAt] of members) if (expiresAt <= now) members.delete(channel);
      if (members.size === 0) groups.delete(group);
    }
  };

  const takeQueued = (channel: string): Message | undefined => {
    const nonLocal = nonLocalPart(channel);
    const key = nonLocal ?? channel;
    const source = queues.get(key);
    if (!source) return undefined;
    const queue = purgeExpired(key, source, Date.now());
    if (nonLocal === undefined) {
      const entry = queue.shift();
      if (queue.length === 0) queues.delete(key);
      return entry && codec.decode(entry.data);
    }
    const local = channel.slice(nonLocal.length);
    const index = queue.findIndex((e) => e.locals!.includes(local));
    if (index < 0) return undefined;
    const entry = queue[index];
    entry.locals = entry.locals!.filter((l) => l !== local);
    if (entry.locals.length === 0) queue.splice(index, 1);
    if (queue.length === 0) queues.delete(key);
    return codec.decode(entry.data);
  };

  return {
    extensions: ["groups", "flush", "depth", "receiveMany"],
    stats,

    async depth(channel: string) {
      assertChannelName(channel);
      ensureOpen();
      const queue = queues.get(channel);
      return { depth: queue ? purgeExpired(channel, queue, Date.now()).length : 0, capacity: opts.capacityOf(channel) };
    },

    async send(channel: string, message: Message): Promise<void> {
      assertChannelName(channel);
      ensureOpen();
      const data = codec.encode(message);
      sweep();
      const nonLocal = nonLocalPart(channel);
      const capacity = opts.capacityOf(nonLocal ?? channel);
      if (!deliver(nonLocal ?? channel, [channel], nonLocal !== undefined, data, capacity)) {
        throw new ChannelFullError(channel, capacity);
      }
    },

    async receive(channel: string, receiveOptions: ReceiveOptions = {}): Promise<Message> {
      assertChannelName(channel);
      namer.assertOwned(channel);
      ensureOpen();
      if (receiveOptions.signal?.aborted) throw receiveOptions.signal.reason;
      const queued = takeQueued(channel);
      if (queued) return queued;
      return waiters.wait(channel, receiveOptions, () => {});
    },

    async receiveMany(channel: string, receiveOptions: ReceiveManyOptions = {}): Promise<Message[]> {
      assertChannelName(channel);
      namer.assertOwned(channel);
      ensureOpen();
      const max = maxOf(receiveOptions);
      if (receiveOptions.signal?.aborted) throw receiveOptions.signal.reason;
      const taken: Message[] = [];
      for (let message = takeQueued(channel); message; message = taken.length < max ? takeQueued(channel) : undefined) taken.push(message);
      if (taken.length) return taken;
      return waiters.waitMany(channel, receiveOptions, max, () => {});
    },

    async newChannel(prefix?: string): Promise<string> {
      ensureOpen();
      return namer.mint(prefix);
    },

    async groupAdd(group: string, channel: string): Promise<void> {
      assertGroupName(group);
      assertChannelName(channel);
      ensureOpen();
      let members = groups.get(group);
      if (!members) groups.set(group, (members = new Map()));
      members.set(channel, Date.now() + opts.groupExpiryMs);
    },

    async groupDiscard(group: string, channel: string): Promise<void> {
      assertGroupName(group);
      assertChannelName(channel);
      ensureOpen();
      const members = groups.get(group);
      members?.delete(channel);
      if (members?.size === 0) groups.delete(group);
    },

    async groupSend(group: string, message: Message): Promise<void> {
      assertGroupName(group);
      ensureOpen();
      const data = codec.encode(message);
      const members = groups.get(group);
      if (!members) return;
      const now = Date.now();
      // One stored entry per inbox, whatever the number of its member channels.
      const byKey = new Map<string, string[]>();
      for (const [channel, expiresAt] of members) {
        if (expiresAt <= now) {
          members.delete(channel);
          continue;
        }
        const key = nonLocalPart(channel) ?? channel;
        const list = byKey.get(key);
        if (list) list.push(channel);
        else byKey.set(key, [channel]);
      }
      for (const [key, channels] of byKey) {
        const local = key.endsWith("!");
        if (!deliver(key, channels, local, data, opts.capacityOf(key))) stats.groupSendSkippedFull += channels.length;
      }
    },

    async flush(): Promise<void> {
      queues.clear();
      groups.clear();
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      waiters.failAll(new BusUnavailableError("the channel layer was closed while receiving"));
      queues.clear();
      groups.clear();
    },
  };
}
