// Operating the Redis firehose from outside the services: list a stream's dead letters, replay
// them into their stream, and read what an operator watches (length, dead letters, and per
// consumer group the pending count and the lag — entries not yet delivered to the group).
// `npm run firehose -- dead-letters|replay|stats` is the command line over it.
import { connectFailFast } from "./redis-connection.ts";
import { FirehoseInputError } from "./errors.ts";
import { DEFAULT_FIREHOSE_OPTIONS, type DeadLetterInfo, type FirehoseEvent } from "./types.ts";

export interface DeadLetter {
  /** Position in "<stream>.dead-letter" (what `replay` takes). */
  position: string;
  event: FirehoseEvent;
  info?: DeadLetterInfo;
}

export interface GroupStats {
  group: string;
  consumers: number;
  /** Delivered, not yet acknowledged. */
  pending: number;
  /** Entries in the stream the group has not been given yet (null when Redis cannot tell). */
  lag: number | null;
}

export interface StreamStats {
  stream: string;
  length: number;
  deadLetters: number;
  groups: GroupStats[];
}

export interface FirehoseAdmin {
  deadLetters(stream: string, options?: { limit?: number }): Promise<DeadLetter[]>;
  /** Appends the dead letters (all, or those positions) to their stream again and removes them; returns how many. */
  replay(stream: string, positions?: string[]): Promise<number>;
  stats(streams: string[]): Promise<StreamStats[]>;
  close(): void;
}

type RawEntry = [id: string, fields: string[]];

function parse(raw: RawEntry): DeadLetter | undefined {
  const [position, fields] = raw;
  let event: FirehoseEvent | undefined;
  let info: DeadLetterInfo | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === "e") event = JSON.parse(fields[i + 1]) as FirehoseEvent;
    else if (fields[i] === "d") info = JSON.parse(fields[i + 1]) as DeadLetterInfo;
  }
  return event ? { position, event, info } : undefined;
}

/** Flat [k, v, k, v] replies (XINFO) as an object. */
function fieldsOf(reply: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = reply[i + 1];
  return out;
}

export function createFirehoseAdmin(options: { url: string; prefix?: string; maxLen?: number }): FirehoseAdmin {
  if (typeof options?.url !== "string" || !/^rediss?:\/\//.test(options.url)) {
    throw new FirehoseInputError("url", `dead letters live in Redis: expected a redis:// URL, got ${JSON.stringify(options?.url)}`);
  }
  const prefix = options.prefix ?? DEFAULT_FIREHOSE_OPTIONS.prefix;
  const maxLen = options.maxLen ?? DEFAULT_FIREHOSE_OPTIONS.maxLen;
  const redis = connectFailFast(options.url);
  const keyOf = (stream: string) => `${prefix}:${stream}`;
  const deadKeyOf = (stream: string) => keyOf(`${stream}.dead-letter`);

  async function deadLetters(stream: string, opts: { limit?: number } = {}): Promise<DeadLetter[]> {
    const raw = (await redis.run((client) => client.xrange(deadKeyOf(stream), "-", "+", "COUNT", opts.limit ?? 1000))) as RawEntry[];
    return raw.map(parse).filter((d): d is DeadLetter => d !== undefined);
  }

  return {
    deadLetters,
    async replay(stream, positions) {
      const wanted = positions && positions.length > 0 ? new Set(positions) : undefined;
      const letters = (await deadLetters(stream, { limit: 100_000 })).filter((d) => !wanted || wanted.has(d.position));
      for (const letter of letters) {
        // The same event (same id: consumers are idempotent) at the end of its stream; every group
        // sees it again, the one that failed it included. Removed from the dead letters in the same step.
        await redis.run((client) =>
          client
            .multi()
            .xadd(keyOf(stream), "MAXLEN", "~", maxLen, "*", "e", JSON.stringify(letter.event))
            .xdel(deadKeyOf(stream), letter.position)
            .exec(),
        );
      }
      return letters.length;
    },
    async stats(streams) {
      return Promise.all(
        streams.map(async (stream): Promise<StreamStats> => {
          const [length, dead] = await redis.run((client) => Promise.all([client.xlen(keyOf(stream)), client.xlen(deadKeyOf(stream))]));
          let groups: GroupStats[] = [];
          try {
            const raw = (await redis.run((client) => client.xinfo("GROUPS", keyOf(stream)))) as unknown[][];
            groups = raw.map((g) => {
              const f = fieldsOf(g);
              return { group: String(f.name), consumers: Number(f.consumers), pending: Number(f.pending), lag: f.lag === null || f.lag === undefined ? null : Number(f.lag) };
            });
          } catch {
            // No such stream yet: no groups.
          }
          return { stream, length, deadLetters: dead, groups };
        }),
      );
    },
    close() {
      redis.close();
    },
  };
}

/** The stats in Prometheus text format (for a textfile collector or a scrape job running the command). */
export function firehoseStatsToPrometheus(stats: StreamStats[]): string {
  const lines = [
    "# HELP boxoffice_firehose_stream_length Entries retained in the stream.",
    "# TYPE boxoffice_firehose_stream_length gauge",
    ...stats.map((s) => `boxoffice_firehose_stream_length{stream="${s.stream}"} ${s.length}`),
    "# HELP boxoffice_firehose_dead_letters Events in the stream's dead-letter stream (replay with npm run firehose -- replay).",
    "# TYPE boxoffice_firehose_dead_letters gauge",
    ...stats.map((s) => `boxoffice_firehose_dead_letters{stream="${s.stream}"} ${s.deadLetters}`),
    "# HELP boxoffice_firehose_group_pending Delivered to the consumer group and not acknowledged.",
    "# TYPE boxoffice_firehose_group_pending gauge",
    ...stats.flatMap((s) => s.groups.map((g) => `boxoffice_firehose_group_pending{stream="${s.stream}",group="${g.group}"} ${g.pending}`)),
    "# HELP boxoffice_firehose_group_lag Entries of the stream not yet delivered to the consumer group.",
    "# TYPE boxoffice_firehose_group_lag gauge",
    ...stats.flatMap((s) => s.groups.filter((g) => g.lag !== null).map((g) => `boxoffice_firehose_group_lag{stream="${s.stream}",group="${g.group}"} ${g.lag}`)),
  ];
  return `${lines.join("\n")}\n`;
}
