// Sends to one Redis host issued in the same tick travel as one script call. The batch waits for
// nothing: it leaves when the current tick's callbacks and promise jobs are done (process.nextTick
// queued from a promise job runs after the job queue drains), so a lone send costs no latency and a
// server answering 64 requests from one pop pays one round trip for all 64 replies.
// Per message the contract is unchanged: SEND_SCRIPT accepts, in order, as many frames per list as
// it has room for and refuses exactly the rest.

/** One message on its way to one list. */
export interface QueuedFrame {
  readonly key: string;
  readonly capacity: number;
  readonly frame: Buffer;
  /** true: stored; false: the list was full (for this frame, after the ones queued before it). */
  settle(accepted: boolean): void;
  fail(error: unknown): void;
}

/** Frames per script call: keeps Lua's unpack and one command's argument list small. */
export const MAX_FRAMES_PER_CALL = 1000;
/** Bytes of frames per script call (a few 1 MiB messages in one tick go in several calls). */
export const MAX_BYTES_PER_CALL = 4 * 1024 * 1024;

/** Runs SEND_SCRIPT on the host with these keys and arguments; resolves with the accepted counts. */
export type RunSendScript = (keys: string[], args: Array<string | number | Buffer>) => Promise<number[]>;

export class SendBatch {
  readonly #run: RunSendScript;
  readonly #keyTtlMs: number;
  #queued: QueuedFrame[] = [];
  #scheduled = false;
  readonly #flush = () => this.flush();

  constructor(run: RunSendScript, keyTtlMs: number) {
    this.#run = run;
    this.#keyTtlMs = keyTtlMs;
  }

  enqueue(entry: QueuedFrame): void {
    this.#queued.push(entry);
    if (this.#scheduled) return;
    this.#scheduled = true;
    process.nextTick(this.#flush);
  }

  /** Sends everything queued now (normally called by the tick that enqueued first). */
  flush(): void {
    const entries = this.#queued;
    this.#queued = [];
    this.#scheduled = false;
    if (entries.length === 0) return;
    // Frames of one list keep their order; lists keep the order of their first send.
    const byKey = new Map<string, QueuedFrame[]>();
    for (const entry of entries) {
      const list = byKey.get(entry.key);
      if (list) list.push(entry);
      else byKey.set(entry.key, [entry]);
    }
    let keys: string[] = [];
    let groups: QueuedFrame[][] = [];
    let args: Array<string | number | Buffer> = [];
    let frames = 0;
    let bytes = 0;
    const call = () => {
      const [k, g, a] = [keys, groups, args];
      [keys, groups, args, frames, bytes] = [[], [], [], 0, 0];
      this.#run(k, [Date.now(), this.#keyTtlMs, ...a]).then(
        (accepted) => {
          for (let i = 0; i < g.length; i++) {
            const room = Number(accepted[i] ?? 0);
            g[i].forEach((entry, j) => entry.settle(j < room));
          }
        },
        (error: unknown) => {
          for (const group of g) for (const entry of group) entry.fail(error);
        },
      );
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
        keys.push(piece[0].key);
        groups.push(piece);
        args.push(piece[0].capacity, piece.length);
        for (const entry of piece) args.push(entry.frame);
        frames += piece.length;
        bytes += size;
        from = to;
        // A list cut short goes on in the next call, after this one (same connection, same order).
        if (from < list.length || frames >= MAX_FRAMES_PER_CALL || bytes >= MAX_BYTES_PER_CALL) call();
      }
    }
    if (keys.length) call();
  }
}
