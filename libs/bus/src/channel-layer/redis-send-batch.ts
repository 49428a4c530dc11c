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
   * hash, key) and a pop (name, timeout, key, options), written as RESP once rather than per call.
   */
  readonly #heads = new Map<string, { send?: RespArgs; pop?: RespArgs }>();

  constructor(options: HostBatchOptions) {
    this.#options = options;
  }

  send(entry: QueuedFrame): void {
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

  #headsOf(key: string): { send?: RespArgs; pop?: RespArgs } {
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
    for (const c of chunks) this.#script(c, c === chunks[0] ? rider : undefined);
    for (const p of pops) issuePop(p);
  }

  #sendHead(key: string): RespArgs {
    const heads = this.#headsOf(key);
    return (heads.send ??= new RespArgs(["EVALSHA", SEND_ONE_SCRIPT.sha, 1, key]));
  }

  #script(c: Chunk, rider: QueuedPop | undefined): void {
    const previous = this.#last;
    const conn = rider?.conn;
    // One frame to one list (a reply, a lone request) takes the smaller script.
    const single = c.groups.length === 1 && c.groups[0].length === 1;
    const lua = single ? SEND_ONE_SCRIPT : SEND_SCRIPT;
    const scriptArgs = single ? [Date.now(), this.#options.keyTtlMs, c.args[0], c.args[2]] : [Date.now(), this.#options.keyTtlMs, ...c.args];
    // No promise per call for this: only a call on another connection waits for it, which is rare.
    const last: LastCall = { conn, finished: false, then: [] };
    const finish = () => {
      last.finished = true;
      if (this.#last === last) this.#last = undefined;
      for (const wake of last.then.splice(0)) wake();
    };
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
    if (rider) {
      // The script and the pop leave in one write. The pop is issued whatever happens to the script:
      // its receive loop waits for it.
      writeCommands(rider.conn, [request, popRequest(rider)]);
    } else if ((!previous || previous.conn === undefined) && this.#options.current().status === "ready") {
      // Nothing under way on another connection: the ordinary connection keeps the order by itself.
      writeCommands(this.#options.current(), [request]);
    } else {
      // A call on another connection than the one before it waits for that one (order per list).
      const afterPrevious = async () => {
        if (previous && previous.conn !== undefined && !previous.finished) await new Promise<void>((resolve) => previous.then.push(resolve));
        writeCommands(await this.#options.command(), [request]);
      };
      afterPrevious().catch(failed);
    }
    if (!last.finished) this.#last = last;
  }
}

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
