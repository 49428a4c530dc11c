// What one process asks of one Redis host in one tick leaves together. Sends to that host issued
// in the same tick travel as one script call, and the blocking pop a receive loop re-issues after
// handing out a batch rides in the same socket write when it can (the script first, on the pop's
// connection, then the pop): a server that answers what it popped, or a client whose replies came
// in and who calls again, pays one write for its answers and its next pop. On this machine a
// write to the loopback socket is the largest single cost of a call (profiled: about a third of a
// process's CPU at 64 calls in flight), so writes per call are what this saves.
// The batch waits for nothing: it leaves when the current tick's callbacks and promise jobs are
// done (process.nextTick queued from a promise job runs after the job queue drains), so a lone
// send or pop costs no latency.
// Per message the contract is unchanged: SEND_SCRIPT accepts, in order, as many frames per list as
// it has room for and refuses exactly the rest.
// A lone frame to a process-local inbox (an RPC reply) skips the script: see #pushToInbox.
import type { Redis } from "ioredis";
import { BLOCK_SECONDS } from "./redis-connections.ts";
import { RespArgs, writeCommands, type RawRequest } from "./redis-raw-commands.ts";
import { runScript, SEND_ONE_SCRIPT, SEND_SCRIPT } from "./redis-scripts.ts";

/** The last script call issued: on which connection, whether it was answered, who waits for that. */
interface LastCall {
  readonly conn: Redis | undefined;
  finished: boolean;
  readonly then: Array<() => void>;
}

/** One message on its way to one list. */
export interface QueuedFrame {
  readonly key: string;
  readonly capacity: number;
  readonly frame: Buffer;
  /**
   * The list is a process-local inbox. Nothing hands frames back to an inbox (its reader keeps what
   * a receive gave up on in its own memory), so only sends fill it and it never holds more than the
   * capacity senders check against it.
   */
  readonly inbox: boolean;
  /** true: stored; false: the list was full (for this frame, after the ones queued before it). */
  settle(accepted: boolean): void;
  fail(error: unknown): void;
}

/** BLMPOP's answer: the list and the frames taken, or null when it timed out. */
export type Popped = [Buffer, Buffer[]] | null;

interface QueuedPop {
  readonly conn: Redis;
  /** BLMPOP's arguments up to its COUNT, as RESP (see heads). */
  readonly head: RespArgs;
  readonly count: number;
  resolve(popped: Popped): void;
  reject(error: unknown): void;
}

/** Frames per script call: keeps Lua's unpack and one command's argument list small. */
export const MAX_FRAMES_PER_CALL = 1000;
/** Bytes of frames per script call (a few 1 MiB messages in one tick go in several calls). */
export const MAX_BYTES_PER_CALL = 4 * 1024 * 1024;

interface Chunk {
  keys: string[];
  args: Array<string | number | Buffer>;
  groups: QueuedFrame[][];
}

export interface HostBatchOptions {
  /** The host's connection for ordinary commands, once ready. */
  command(): Promise<Redis>;
  /** The host's connection for ordinary commands, whatever its state. */
  current(): Redis;
  /** Maps a failure to the error callers see (BusUnavailableError). */
  unavailable(error: unknown): unknown;
  keyTtlMs: number;
}

export class HostBatch {
  readonly #options: HostBatchOptions;
  #frames: QueuedFrame[] = [];
  #pops: QueuedPop[] = [];
  #scheduled = false;
  /** The last script call: later ones on another connection wait for it, so lists keep send order. */
  #last: LastCall | undefined;
  readonly #flush = () => this.flush();
  /**
   * The fixed heads of the commands sent over and over, per list: a lone frame's script call (name,
   * hash, key), a pop (name, timeout, key, options) and an inbox push's transaction, written as RESP
   * once rather than per call.
   */
  readonly #heads = new Map<string, Heads>();
  /**
   * Inboxes with a script-less push whose answer has not come back, and the frames sent to them
   * meanwhile: those wait, so a push the transaction refused and the script then retries keeps its
   * place in the inbox's order.
   */
  readonly #held = new Map<string, QueuedFrame[]>();
  /** Set once an inbox turned out fuller than this process's capacity for it (see #pushToInbox). */
  #scriptOnly = false;

  constructor(options: HostBatchOptions) {
    this.#options = options;
  }

  send(entry: QueuedFrame): void {
    const held = entry.inbox ? this.#held.get(entry.key) : undefined;
    if (held) {
      held.push(entry);
      return;
    }
    this.#frames.push(entry);
    this.#schedule();
  }

  /** BLMPOP of up to `count` frames from `key` on `conn` (a blocking connection), issued with this tick's sends when it can be. */
  pop(conn: Redis, key: string, count: number): Promise<Popped> {
    const heads = this.#headsOf(key);
    const head = (heads.pop ??= new RespArgs(["BLMPOP", BLOCK_SECONDS, 1, key, "LEFT", "COUNT"]));
    return new Promise((resolve, reject) => {
      this.#pops.push({ conn, head, count, resolve, reject });
      this.#schedule();
    });
  }

  #headsOf(key: string): Heads {
    let heads = this.#heads.get(key);
    if (!heads) {
      // Reply inboxes come and go with callers: forget them all now and then rather than grow.
      if (this.#heads.size >= 10_000) this.#heads.clear();
      this.#heads.set(key, (heads = {}));
    }
    return heads;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    process.nextTick(this.#flush);
  }

  flush(): void {
    this.#scheduled = false;
    const chunks = chunk(this.#frames);
    const pops = this.#pops;
    this.#frames = [];
    this.#pops = [];
    // One script call and a pop share a write when nothing is under way that the script must follow.
    const rider = chunks.length === 1 && pops.length > 0 && this.#last === undefined && pops[0].conn.status === "ready" ? pops.shift() : undefined;
    const lone = chunks.length === 1 && chunks[0].groups.length === 1 && chunks[0].groups[0].length === 1 ? chunks[0].groups[0][0] : undefined;
    if (lone?.inbox && !this.#scriptOnly) this.#pushToInbox(lone, rider);
    else for (const c of chunks) this.#script(c, c === chunks[0] ? rider : undefined);
    for (const p of pops) issuePop(p);
  }

  #sendHead(key: string): RespArgs {
    const heads = this.#headsOf(key);
    return (heads.send ??= new RespArgs(["EVALSHA", SEND_ONE_SCRIPT.sha, 1, key]));
  }

  /**
   * A lone frame to an inbox, without a script: MULTI, RPUSH, LRANGE and LTRIM past capacity,
   * PEXPIRE, EXEC. The transaction is atomic like the script (a waiting pop is served after EXEC, so
   * no reader sees the frame past capacity), and since an inbox never holds more than its capacity
   * before the push (see QueuedFrame.inbox), the LTRIM can only take back this frame: stored when
   * RPUSH answered a length within capacity, refused otherwise. A refusal is not final: expired
   * frames at a full inbox's head must give way, which needs the script's branch, so the script then
   * decides; later frames to the inbox wait until it has (#held). Redis runs the script's RPUSH and
   * PEXPIRE through Lua, which costs several µs more than the same commands when it wakes cold for
   * one frame, as it does for each reply at one call in flight.
   * Processes configured with different capacities for one inbox (BUS_REPLY_CAPACITY is per
   * process) break the premise: an inbox filled past this process's capacity by another. Then the
   * LTRIM cut frames that process was told were stored; LRANGE returned them, so they are pushed
   * back at the tail (nothing read them; only frames sent in that round trip can pass them), and
   * this batch sends to inboxes through the script from then on, as before.
   */
  #pushToInbox(entry: QueuedFrame, rider: QueuedPop | undefined): void {
    const { key, capacity, frame } = entry;
    this.#held.set(key, []);
    const heads = this.#headsOf(key);
    if (heads.inboxCapacity !== capacity) {
      heads.inboxCapacity = capacity;
      heads.inbox = {
        rpush: new RespArgs(["RPUSH", key]),
        past: new RespArgs(["LRANGE", key, capacity, -1]),
        trim: new RespArgs(["LTRIM", key, 0, capacity - 1]),
        expire: new RespArgs(["PEXPIRE", key, this.#options.keyTtlMs]),
      };
    }
    const inbox = heads.inbox!;
    const call = this.#open(rider?.conn);
    const release = () => {
      const held = this.#held.get(key) ?? [];
      this.#held.delete(key);
      if (held.length === 0) return;
      for (const later of held) this.#frames.push(later);
      this.#schedule();
    };
    const failed = (error: unknown) => {
      call.finish();
      entry.fail(this.#options.unavailable(error));
      release();
    };
    const answered = (replies: unknown) => {
      call.finish();
      const [length, cut] = Array.isArray(replies) ? replies : [replies, undefined];
      if (length instanceof Error) return failed(length);
      if (typeof length === "number" && length <= capacity) {
        entry.settle(true);
        return release();
      }
      if (typeof length === "number" && length > capacity + 1 && Array.isArray(cut)) {
        // Another process's frames were past this one's capacity (see above): put them back first.
        this.#scriptOnly = true;
        const others = (cut as Buffer[]).slice(0, -1);
        void this.#options
          .command()
          .then((conn) => conn.multi().rpush(key, ...others).pexpire(key, this.#options.keyTtlMs).exec())
          .catch(() => {});
      }
      // Full: the transaction took the frame back. The script drops expired heads and stores it if
      // that makes room, before any later frame to this inbox.
      const settleThenRelease = (accepted: boolean) => {
        entry.settle(accepted);
        release();
      };
      const failThenRelease = (error: unknown) => {
        entry.fail(error);
        release();
      };
      const retry: QueuedFrame = { key, capacity, frame, inbox: true, settle: settleThenRelease, fail: failThenRelease };
      this.#script({ keys: [key], args: [capacity, 1, frame], groups: [[retry]] }, undefined);
    };
    const ignore = () => {};
    const requests: RawRequest[] = [
      { name: "multi", args: [MULTI], onReply: ignore, onError: ignore },
      { name: "rpush", args: [inbox.rpush, frame], onReply: ignore, onError: ignore },
      { name: "lrange", args: [inbox.past], onReply: ignore, onError: ignore },
      { name: "ltrim", args: [inbox.trim], onReply: ignore, onError: ignore },
      { name: "pexpire", args: [inbox.expire], onReply: ignore, onError: ignore },
      // Only EXEC's answer counts: it carries RPUSH's, and it fails whenever the transaction does.
      { name: "exec", args: [EXEC], onReply: answered, onError: failed },
    ];
    this.#write(call, requests, rider, failed);
  }

  /**
   * Starts tracking a call about to be written (on `conn` when it rides with a pop, else on the
   * ordinary connection); its answer handlers must call `finish`. No promise per call for this:
   * only a call on another connection waits for it, which is rare.
   */
  #open(conn: Redis | undefined): { previous: LastCall | undefined; last: LastCall; finish(): void } {
    const previous = this.#last;
    const last: LastCall = { conn, finished: false, then: [] };
    const finish = () => {
      last.finished = true;
      if (this.#last === last) this.#last = undefined;
      for (const wake of last.then.splice(0)) wake();
    };
    return { previous, last, finish };
  }

  /** Writes a call's commands: with the pop that rides along, or after the call before it when that was on another connection (order per list). */
  #write(call: { previous: LastCall | undefined; last: LastCall }, requests: RawRequest[], rider: QueuedPop | undefined, failed: (error: unknown) => void): void {
    const { previous, last } = call;
    if (rider) {
      // The call and the pop leave in one write. The pop is issued whatever happens to the call:
      // its receive loop waits for it.
      writeCommands(rider.conn, [...requests, popRequest(rider)]);
    } else if ((!previous || previous.conn === undefined) && this.#options.current().status === "ready") {
      // Nothing under way on another connection: the ordinary connection keeps the order by itself.
      writeCommands(this.#options.current(), requests);
    } else {
      // A call on another connection than the one before it waits for that one (order per list).
      const afterPrevious = async () => {
        if (previous && previous.conn !== undefined && !previous.finished) await new Promise<void>((resolve) => previous.then.push(resolve));
        writeCommands(await this.#options.command(), requests);
      };
      afterPrevious().catch(failed);
    }
    if (!last.finished) this.#last = last;
  }

  #script(c: Chunk, rider: QueuedPop | undefined): void {
    // One frame to one list (a reply, a lone request) takes the smaller script.
    const single = c.groups.length === 1 && c.groups[0].length === 1;
    const lua = single ? SEND_ONE_SCRIPT : SEND_SCRIPT;
    const scriptArgs = single ? [Date.now(), this.#options.keyTtlMs, c.args[0], c.args[2]] : [Date.now(), this.#options.keyTtlMs, ...c.args];
    const call = this.#open(rider?.conn);
    const finish = call.finish;
    const answered = (answer: unknown) => {
      const accepted = typeof answer === "number" ? [answer] : (answer as number[]);
      for (let i = 0; i < c.groups.length; i++) {
        const room = Number(accepted[i] ?? 0);
        const group = c.groups[i];
        for (let j = 0; j < group.length; j++) group[j].settle(j < room);
      }
      finish();
    };
    const failed = (error: unknown) => {
      const mapped = this.#options.unavailable(error);
      for (const group of c.groups) for (const entry of group) entry.fail(mapped);
      finish();
    };
    // A server that lost its scripts (restarted) answers NOSCRIPT: load it on the ordinary connection.
    const viaIoredis = () => {
      this.#options
        .command()
        .then((command) => runScript(command, lua, c.keys, scriptArgs))
        .then(answered, failed);
    };
    const request: RawRequest = {
      name: "evalsha",
      args: single ? [this.#sendHead(c.keys[0]), ...scriptArgs] : ["EVALSHA", lua.sha, c.keys.length, ...c.keys, ...scriptArgs],
      onReply: answered,
      onError: (error: unknown) => ((error as Error).message?.startsWith("NOSCRIPT") ? viaIoredis() : failed(error)),
    };
    this.#write(call, [request], rider, failed);
  }
}

/** What #headsOf keeps per list. */
interface Heads {
  send?: RespArgs;
  pop?: RespArgs;
  /** An inbox push's commands around the frame, for the capacity they were made with. */
  inbox?: { rpush: RespArgs; past: RespArgs; trim: RespArgs; expire: RespArgs };
  inboxCapacity?: number;
}

const MULTI = new RespArgs(["MULTI"]);
const EXEC = new RespArgs(["EXEC"]);

function popRequest(p: QueuedPop): RawRequest {
  return { name: "blmpop", args: [p.head, p.count], onReply: p.resolve as (reply: unknown) => void, onError: p.reject };
}

function issuePop(p: QueuedPop): void {
  writeCommands(p.conn, [popRequest(p)]);
}

/** Frames of one list keep their order; lists keep the order of their first send. */
function chunk(entries: QueuedFrame[]): Chunk[] {
  if (entries.length === 0) return [];
  // The usual tick: every frame for one list (a client's requests, a server's replies to one caller).
  const key = entries[0].key;
  if (entries.length <= MAX_FRAMES_PER_CALL) {
    const args: Array<string | number | Buffer> = [entries[0].capacity, entries.length];
    let bytes = 0;
    for (const entry of entries) {
      if (entry.key !== key) break;
      bytes += entry.frame.length;
      args.push(entry.frame);
    }
    if (args.length === entries.length + 2 && (entries.length === 1 || bytes <= MAX_BYTES_PER_CALL)) return [{ keys: [key], args, groups: [entries] }];
  }
  const byKey = new Map<string, QueuedFrame[]>();
  for (const entry of entries) {
    const list = byKey.get(entry.key);
    if (list) list.push(entry);
    else byKey.set(entry.key, [entry]);
  }
  const chunks: Chunk[] = [];
  let current: Chunk = { keys: [], args: [], groups: [] };
  let frames = 0;
  let bytes = 0;
  const close = () => {
    chunks.push(current);
    current = { keys: [], args: [], groups: [] };
    frames = 0;
    bytes = 0;
  };
  for (const list of byKey.values()) {
    for (let from = 0; from < list.length; ) {
      let to = from;
      let size = 0;
      while (to < list.length && frames + (to - from) < MAX_FRAMES_PER_CALL && (to === from || bytes + size + list[to].frame.length <= MAX_BYTES_PER_CALL)) {
        size += list[to].frame.length;
        to++;
      }
      const piece = list.slice(from, to);
      current.keys.push(piece[0].key);
      current.groups.push(piece);
      current.args.push(piece[0].capacity, piece.length);
      for (const entry of piece) current.args.push(entry.frame);
      frames += piece.length;
      bytes += size;
      from = to;
      // A list cut short goes on in the next call, after this one (same connection, same order).
      if (from < list.length || frames >= MAX_FRAMES_PER_CALL || bytes >= MAX_BYTES_PER_CALL) close();
    }
  }
  if (current.keys.length) close();
  return chunks;
}
