// The channel layer on Redis (one or several hosts). Differences from channels_redis, on purpose:
// capacity is checked atomically (in Lua; a lone frame to an inbox in a MULTI, redis-send-batch.ts);
// every message carries its own expiry; process-local channels live in one list per non-local part
// (one capacity, one blocking pop per process, hashed on the non-local part on both sides); a group
// send stores one message per member process; a message taken from Redis for a receive that gave
// up is handed back (normal channels: pushed back at the head; process-local: kept for the next
// receive), so aborts and timeouts lose nothing.
// Sends to one host in the same tick share one script call, and a receive loop's next pop rides in
// the same write (redis-send-batch.ts); one pop per key serves every receive waiting on it,
// receiveMany taking several messages at once.
import { crc32 } from "node:zlib";
import type { Redis } from "ioredis";
import { createMessageCodec } from "./codec.ts";
import { BusUnavailableError, ChannelFullError, InvalidOptionError } from "./errors.ts";
import { createChannelNamer, newInstanceId } from "./local-channels.ts";
import { assertChannelName, assertGroupName, nonLocalPart } from "./names.ts";
import { resolveOptions } from "./options.ts";
import { maxOf, ReceiveWaiters, type Waiter } from "./receive-waiters.ts";
import { redactRedisUrl, RedisHost } from "./redis-connections.ts";
import { PUSH_BACK_SCRIPT, runScript } from "./redis-scripts.ts";
import { HostBatch } from "./redis-send-batch.ts";
import type { ChannelLayer, ChannelLayerStats, Message, ReceiveManyOptions, ReceiveOptions, RedisChannelLayerOptions } from "./types.ts";

/** Most frames one non-blocking pop takes for the receives waiting on a key. */
const MAX_BATCH = 256;

interface Frame {
  expiresAt: number;
  locals: readonly string[];
  payload: Buffer;
}

/** Everything this process knows about one Redis list: who waits on it, what it holds for them. */
interface KeyState {
  readonly key: string;
  readonly host: RedisHost;
  /** Set for a process-local inbox; channels are `${nonLocal}${local}`. */
  readonly nonLocal: string | undefined;
  readonly capacity: number;
  readonly waiters: ReceiveWaiters;
  /** Messages taken from Redis that no receive was waiting for, per channel, oldest first. */
  readonly buffered: Map<string, Frame[]>;
  pumping: boolean;
  /** The last frame's local parts (inboxes only): see decodeFrame. */
  tail: TailCache | undefined;
}

/** The locals of a frame with none (a normal channel's, or an inbox channel whose local part is empty): shared, never changed. */
const NO_LOCALS: readonly string[] = Object.freeze([""]);

/** The last expiry written as 15 digits: sends of one millisecond share it instead of converting it again. */
let lastExpiry = -1;
const lastExpiryDigits = Buffer.alloc(15);

function encodeFrame(expiresAt: number, locals: readonly string[] | null, payload: Buffer): Buffer {
  const tail = locals ? (locals.length === 1 ? locals[0] : locals.join(",")) : "";
  if (expiresAt !== lastExpiry) {
    for (let i = 14, n = expiresAt; i >= 0; i--, n = Math.floor(n / 10)) lastExpiryDigits[i] = 48 + (n % 10);
    lastExpiry = expiresAt;
  }
  // One allocation per frame, the header written in place: this runs on every send.
  const frame = Buffer.allocUnsafe(16 + tail.length + payload.length);
  lastExpiryDigits.copy(frame, 0);
  if (tail.length) frame.write(tail, 15, "latin1");
  frame[15 + tail.length] = 10;
  payload.copy(frame, 16 + tail.length);
  return frame;
}

/**
 * The local parts of the last frame read from one inbox, and the channels they name: a process's
 * inbox gets frame after frame for the same few channels (an RPC client's one reply channel), so
 * the tail's bytes are compared instead of read into new strings and names every time.
 */
interface TailCache {
  bytes: Buffer;
  locals: readonly string[];
  channels: readonly string[];
}

function decodeFrame(raw: Buffer, cache?: { tail: TailCache | undefined; nonLocal: string | undefined }): Frame {
  let expiresAt = 0;
  for (let i = 0; i < 15; i++) {
    const digit = raw[i] - 48;
    // Not a frame this layer wrote (or cut short): expired, so it is dropped rather than misread.
    if (!(digit >= 0 && digit <= 9)) return { expiresAt: 0, locals: NO_LOCALS, payload: raw };
    expiresAt = expiresAt * 10 + digit;
  }
  // Local parts are at most a name long: a loop finds the newline sooner than a native indexOf call.
  let newline = 15;
  while (newline < raw.length && raw[newline] !== 10) newline++;
  if (newline === 15) return { expiresAt, locals: NO_LOCALS, payload: raw.subarray(16) };
  const tail = cache?.tail;
  if (tail && sameBytes(raw, 15, newline, tail.bytes)) return { expiresAt, locals: tail.locals, payload: raw.subarray(newline + 1) };
  const locals = raw.toString("latin1", 15, newline).split(",");
  if (cache?.nonLocal !== undefined) {
    const nonLocal = cache.nonLocal;
    cache.tail = { bytes: Buffer.from(raw.subarray(15, newline)), locals, channels: locals.map((local) => nonLocal + local) };
  }
  return { expiresAt, locals, payload: raw.subarray(newline + 1) };
}

function sameBytes(raw: Buffer, from: number, to: number, bytes: Buffer): boolean {
  if (to - from !== bytes.length) return false;
  for (let i = 0; i < bytes.length; i++) if (raw[from + i] !== bytes[i]) return false;
  return true;
}

const firstOf = (messages: Message[]): Message => messages[0];

function parseHosts(hosts: unknown): string[] {
  if (!Array.isArray(hosts) || hosts.length === 0) throw new InvalidOptionError("hosts", "must be a non-empty array of redis:// URLs");
  return hosts.map((host, i) => {
    if (typeof host !== "string" || !/^rediss?:\/\/./.test(host.trim())) {
      throw new InvalidOptionError(`hosts[${i}]`, `must be a redis:// or rediss:// URL, got ${JSON.stringify(typeof host === "string" ? redactRedisUrl(host) : host)}`);
    }
    return host.trim();
  });
}

export function createRedisChannelLayer(options: RedisChannelLayerOptions): ChannelLayer {
  if (typeof options !== "object" || options === null) throw new InvalidOptionError("options", "must be an object with hosts");
  const urls = parseHosts(options.hosts);
  const opts = resolveOptions(options);
  const codec = createMessageCodec(opts.symmetricEncryptionKeys);
  const namer = createChannelNamer(newInstanceId());
  const hosts = urls.map((url) => new RedisHost(url, opts.tls));
  const states = new Map<string, KeyState>();
  const stats: ChannelLayerStats = { groupSendSkippedFull: 0, expiredDropped: 0, undecodableDropped: 0, localBufferDropped: 0 };
  const keyTtlMs = opts.expiryMs + 1000;
  let closed = false;

  // Consistent placement: the same name always lands on the same host, from any process.
  const hostFor = (name: string) => hosts[hosts.length === 1 ? 0 : crc32(name) % hosts.length];
  const channelKey = (channel: string) => `${opts.prefix}:c:${channel}`;
  const inboxKey = (nonLocal: string) => `${opts.prefix}:p:${nonLocal}`;
  const groupKey = (group: string) => `${opts.prefix}:g:${group}`;

  const ensureOpen = () => {
    if (closed) throw new BusUnavailableError("the channel layer is closed");
  };

  /** Runs a command on the host's shared connection, mapping every failure to BusUnavailableError. */
  const onHost = async <T>(host: RedisHost, fn: (conn: Redis) => Promise<T>): Promise<T> => {
    // Checked before awaiting: the usual case (connected) then costs no extra turn of the event loop.
    if (host.command.status !== "ready") await host.ready();
    try {
      return await fn(host.command);
    } catch (error) {
      throw host.unavailable(error);
    }
  };

  const stateFor = (channel: string): KeyState => {
    const nonLocal = nonLocalPart(channel);
    const key = nonLocal === undefined ? channelKey(channel) : inboxKey(nonLocal);
    let state = states.get(key);
    if (!state) {
      state = {
        key,
        host: hostFor(nonLocal ?? channel),
        nonLocal,
        capacity: opts.capacityOf(nonLocal ?? channel),
        waiters: new ReceiveWaiters(),
        buffered: new Map(),
        pumping: false,
        tail: undefined,
      };
      states.set(key, state);
    }
    return state;
  };

  const decode = (frame: Frame): Message | undefined => {
    try {
      return codec.decode(frame.payload);
    } catch {
      stats.undecodableDropped += 1;
      return undefined;
    }
  };

  const takeBuffered = (state: KeyState, channel: string): Message | undefined => {
    const list = state.buffered.get(channel);
    while (list?.length) {
      const frame = list.shift()!;
      if (list.length === 0) state.buffered.delete(channel);
      if (frame.expiresAt <= Date.now()) {
        stats.expiredDropped += 1;
        continue;
      }
      const message = decode(frame);
      if (message) return message;
    }
    return undefined;
  };

  // Buffers of channels nobody receives on again (a closed socket's `!` channel) are swept of
  // expired frames now and then, so they cannot grow without bound.
  let keptSinceSweep = 0;
  const sweep = () => {
    if (++keptSinceSweep < 1000) return;
    keptSinceSweep = 0;
    const now = Date.now();
    for (const state of states.values()) {
      for (const [channel, list] of state.buffered) {
        const alive = list.filter((f) => f.expiresAt > now);
        stats.expiredDropped += list.length - alive.length;
        if (alive.length) state.buffered.set(channel, alive);
        else state.buffered.delete(channel);
      }
    }
  };

  const keep = (state: KeyState, channel: string, frame: Frame) => {
    sweep();
    let list = state.buffered.get(channel);
    if (!list) state.buffered.set(channel, (list = []));
    if (list.length >= state.capacity) {
      stats.localBufferDropped += 1;
      return;
    }
    list.push(frame);
  };

  /** Hands popped frames to waiting receives; returns the normal-channel frames nobody took. */
  const dispatch = (state: KeyState, raws: Buffer[]): Buffer[] => {
    const leftover: Buffer[] = [];
    const now = Date.now();
    // The waiter being filled per channel: the oldest takes frames until its max, then the next.
    const filling = new Map<string, { waiter: Waiter; messages: Message[] }>();
    const waiting = (channel: string) => filling.has(channel) || state.waiters.has(channel);
    const hand = (channel: string, message: Message) => {
      let filler = filling.get(channel);
      if (!filler) filling.set(channel, (filler = { waiter: state.waiters.take(channel)!, messages: [] }));
      filler.messages.push(message);
      if (filler.messages.length < filler.waiter.max) return;
      filling.delete(channel);
      filler.waiter.deliver(filler.messages);
    };
    const normalChannel = state.nonLocal === undefined ? state.key.slice(opts.prefix.length + 3) : "";
    for (const raw of raws) {
      const frame = decodeFrame(raw, state);
      if (frame.expiresAt <= now) {
        stats.expiredDropped += 1;
        continue;
      }
      if (state.nonLocal === undefined) {
        if (!waiting(normalChannel)) {
          leftover.push(raw);
          continue;
        }
        const message = decode(frame);
        if (message) hand(normalChannel, message);
        continue;
      }
      // The names of the frame's channels, made once per tail rather than once per frame.
      const channels = state.tail?.locals === frame.locals ? state.tail.channels : frame.locals.map((local) => state.nonLocal + local);
      let decoded = false;
      for (const channel of channels) {
        if (!waiting(channel)) {
          keep(state, channel, frame);
          continue;
        }
        if (decoded) {
          // Each member channel gets its own object, so one receiver's edits never show in another's.
          hand(channel, codec.decode(frame.payload));
          continue;
        }
        const message = decode(frame);
        if (!message) break;
        decoded = true;
        hand(channel, message);
      }
    }
    for (const { waiter, messages } of filling.values()) waiter.deliver(messages);
    return leftover;
  };

  /**
   * The one loop per key that pops for every receive waiting on it in this process: one BLMPOP per
   * pass takes a batch when the list is busy and blocks when it is empty. One blocking connection
   * per busy key means a flooded channel cannot starve a quiet one.
   */
  const pump = async (state: KeyState): Promise<void> => {
    let conn: Redis | undefined;
    try {
      // A ready idle connection is taken at once, so a receive's first pop can leave with this tick's sends.
      conn = state.host.takeIdle() ?? (await state.host.acquireBlocking());
      while (!closed && !state.waiters.empty) {
        const want = Math.min(MAX_BATCH, state.waiters.total());
        // One command per pass: returns at once with up to `want` frames when the list has any,
        // blocks otherwise. Expired frames are dropped by dispatch, never delivered.
        const popped = await batches.get(state.host)!.pop(conn, state.key, want);
        const raws = popped ? popped[1] : [];
        const leftover = dispatch(state, raws);
        if (leftover.length) {
          try {
            await runScript(conn, PUSH_BACK_SCRIPT, [state.key], [keyTtlMs, ...leftover]);
          } catch {
            // Redis refused the hand-back: keep them here for this process's next receive.
            for (const raw of leftover) keep(state, state.key.slice(opts.prefix.length + 3), decodeFrame(raw));
          }
        }
      }
    } catch (error) {
      // Connection lost mid-wait: fail these receives now rather than leave them hanging.
      if (!closed) state.waiters.failAll(state.host.unavailable(error));
    } finally {
      if (conn) state.host.releaseBlocking(conn);
      state.pumping = false;
      if (!closed && !state.waiters.empty) startPump(state);
      else if (state.waiters.empty && state.buffered.size === 0 && states.get(state.key) === state) states.delete(state.key);
    }
  };

  const startPump = (state: KeyState) => {
    if (state.pumping || closed) return;
    state.pumping = true;
    // pump fails its waiters itself; this only stops a bug in it from becoming an unhandled rejection.
    pump(state).catch((error: unknown) => state.waiters.failAll(state.host.unavailable(error)));
  };

  // One batch per host: every send of this tick to that host goes in one script call, with a pop.
  const batches = new Map<RedisHost, HostBatch>(
    hosts.map((host) => [
      host,
      new HostBatch({
        keyTtlMs,
        command: async () => {
          if (host.command.status !== "ready") await host.ready();
          return host.command;
        },
        current: () => host.command,
        unavailable: (error) => (error instanceof BusUnavailableError ? error : host.unavailable(error)),
      }),
    ]),
  );

  /**
   * Where sends to a channel go, worked out once per name: a process sends to the same few channels
   * over and over (a service's request channel, each caller's reply inbox), and checking the name,
   * building the key and finding the capacity and host was a tenth of a send's JavaScript.
   */
  interface Route {
    readonly key: string;
    readonly capacity: number;
    readonly batch: HostBatch;
    /** The frame's local parts: null for a normal channel. */
    readonly locals: string[] | null;
  }
  const routes = new Map<string, Route>();
  const routeOf = (channel: string): Route => {
    const known = routes.get(channel);
    if (known) return known;
    assertChannelName(channel);
    const nonLocal = nonLocalPart(channel);
    const route: Route = {
      key: nonLocal === undefined ? channelKey(channel) : inboxKey(nonLocal),
      capacity: opts.capacityOf(nonLocal ?? channel),
      batch: batches.get(hostFor(nonLocal ?? channel))!,
      locals: nonLocal === undefined ? null : [channel.slice(nonLocal.length)],
    };
    // Reply inboxes come and go with callers: forget everything now and then rather than grow.
    if (routes.size >= 10_000) routes.clear();
    routes.set(channel, route);
    return route;
  };

  /** Queues one frame for its list; resolves true when stored, false when the list was full. */
  const push = (host: RedisHost, key: string, capacity: number, frame: Buffer, inbox: boolean): Promise<boolean> =>
    new Promise((resolve, reject) => batches.get(host)!.send({ key, capacity, frame, inbox, settle: resolve, fail: reject }));

  /** Takes up to `max` messages this process already holds for `channel`. */
  const takeBufferedUpTo = (state: KeyState, channel: string, max: number): Message[] => {
    const taken: Message[] = [];
    for (let message = takeBuffered(state, channel); message; message = taken.length < max ? takeBuffered(state, channel) : undefined) taken.push(message);
    return taken;
  };

  // Not async, like send: a receive's only promise is its waiter's (this runs for every batch a loop takes).
  const receiveUpTo = (channel: string, receiveOptions: ReceiveOptions, max: number): Promise<Message[]> => {
    try {
      assertChannelName(channel);
      namer.assertOwned(channel);
      ensureOpen();
      if (receiveOptions.signal?.aborted) return Promise.reject(receiveOptions.signal.reason);
      const state = stateFor(channel);
      const buffered = takeBufferedUpTo(state, channel, max);
      if (buffered.length) return Promise.resolve(buffered);
      if (state.host.command.status !== "ready") return receiveOnceReady(state.host, channel, receiveOptions, max);
      return state.waiters.waitMany(channel, receiveOptions, max, () => startPump(state));
    } catch (error) {
      return Promise.reject(error);
    }
  };

  const receiveOnceReady = async (host: RedisHost, channel: string, receiveOptions: ReceiveOptions, max: number): Promise<Message[]> => {
    await host.ready();
    ensureOpen(); // closed while waiting for the connection
    // Looked up again after waiting: the key's loop may have finished and forgotten its state
    // meanwhile, and one key must never have two loops (a second inbox loop would strand messages).
    const state = stateFor(channel);
    const late = takeBufferedUpTo(state, channel, max);
    if (late.length) return late;
    return state.waiters.waitMany(channel, receiveOptions, max, () => startPump(state));
  };

  return {
    extensions: ["groups", "flush", "depth", "receiveMany"],
    stats,

    async depth(channel: string) {
      assertChannelName(channel);
      ensureOpen();
      const depth = await onHost(hostFor(channel), (conn) => conn.llen(channelKey(channel)));
      return { depth, capacity: opts.capacityOf(channel) };
    },

    send(channel: string, message: Message): Promise<void> {
      // Not async: the send's only promise is the one its batch settles (this runs on every call).
      try {
        const route = routeOf(channel);
        ensureOpen();
        const frame = encodeFrame(Date.now() + opts.expiryMs, route.locals, codec.encode(message));
        return new Promise((resolve, reject) =>
          route.batch.send({ key: route.key, capacity: route.capacity, frame, inbox: route.locals !== null, settle: (accepted) => (accepted ? resolve() : reject(new ChannelFullError(channel, route.capacity))), fail: reject }),
        );
      } catch (error) {
        return Promise.reject(error);
      }
    },

    receive(channel: string, receiveOptions: ReceiveOptions = {}): Promise<Message> {
      return receiveUpTo(channel, receiveOptions, 1).then(firstOf);
    },

    receiveMany(channel: string, receiveOptions: ReceiveManyOptions = {}): Promise<Message[]> {
      try {
        return receiveUpTo(channel, receiveOptions, maxOf(receiveOptions));
      } catch (error) {
        return Promise.reject(error);
      }
    },

    async newChannel(prefix?: string): Promise<string> {
      ensureOpen();
      return namer.mint(prefix);
    },

    async groupAdd(group: string, channel: string): Promise<void> {
      assertGroupName(group);
      assertChannelName(channel);
      ensureOpen();
      const key = groupKey(group);
      await onHost(hostFor(group), (conn) =>
        conn.multi().zadd(key, Date.now() + opts.groupExpiryMs, channel).pexpire(key, opts.groupExpiryMs).exec(),
      );
    },

    async groupDiscard(group: string, channel: string): Promise<void> {
      assertGroupName(group);
      assertChannelName(channel);
      ensureOpen();
      await onHost(hostFor(group), (conn) => conn.zrem(groupKey(group), channel));
    },

    async groupSend(group: string, message: Message): Promise<void> {
      assertGroupName(group);
      ensureOpen();
      const payload = codec.encode(message);
      const key = groupKey(group);
      const now = Date.now();
      const replies = await onHost(hostFor(group), (conn) => conn.multi().zremrangebyscore(key, "-inf", now).zrange(key, 0, -1).exec());
      const members = (replies?.[1]?.[1] ?? []) as string[];
      if (members.length === 0) return;
      // One frame per destination list: all members in one process share a single stored message.
      const byKey = new Map<string, { host: RedisHost; nonLocal: string | undefined; channels: string[] }>();
      for (const channel of members) {
        const nonLocal = nonLocalPart(channel);
        const destination = nonLocal === undefined ? channelKey(channel) : inboxKey(nonLocal);
        const entry = byKey.get(destination);
        if (entry) entry.channels.push(channel);
        else byKey.set(destination, { host: hostFor(nonLocal ?? channel), nonLocal, channels: [channel] });
      }
      const expiresAt = now + opts.expiryMs;
      await Promise.all(
        [...byKey].map(async ([destination, entry]) => {
          const locals = entry.nonLocal === undefined ? null : entry.channels.map((c) => c.slice(entry.nonLocal!.length));
          const capacity = opts.capacityOf(entry.nonLocal ?? entry.channels[0]);
          if (!(await push(entry.host, destination, capacity, encodeFrame(expiresAt, locals, payload), entry.nonLocal !== undefined))) stats.groupSendSkippedFull += entry.channels.length;
        }),
      );
    },

    async flush(): Promise<void> {
      ensureOpen();
      for (const state of states.values()) state.buffered.clear();
      await Promise.all(
        hosts.map((host) =>
          onHost(host, async (conn) => {
            let cursor = "0";
            do {
              const [next, keys] = await conn.scan(cursor, "MATCH", `${opts.prefix}:*`, "COUNT", 1000);
              cursor = next;
              if (keys.length) await conn.unlink(...keys);
            } while (cursor !== "0");
          }),
        ),
      );
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      const error = new BusUnavailableError("the channel layer was closed while receiving");
      for (const state of states.values()) state.waiters.failAll(error);
      states.clear();
      for (const host of hosts) host.close();
    },
  };
}
