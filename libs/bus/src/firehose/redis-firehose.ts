// The firehose on Redis Streams: XADD with MAXLEN ~ for bounded retention, XREAD for broadcast
// subscriptions, XREADGROUP/XACK for consumer groups, XAUTOCLAIM to take over events a consumer
// did not acknowledge within the visibility timeout.
import { createFirehoseOver } from "./firehose-engine.ts";
import type { FirehoseBackend, StoredEntry, StreamReader } from "./firehose-backend.ts";
import { connectFailFast } from "./redis-connection.ts";
import { DEFAULT_FIREHOSE_OPTIONS, type DeadLetterInfo, type Firehose, type FirehoseEvent, type RedisFirehoseOptions } from "./types.ts";
import { FirehoseInputError } from "./errors.ts";

type RawEntry = [id: string, fields: string[]];
const POSITION = /^\d+-\d+$/;

function parseEntry(raw: RawEntry, attempt: number): StoredEntry | undefined {
  if (!raw || !Array.isArray(raw[1])) return undefined; // trimmed while pending
  const [position, fields] = raw;
  let event: FirehoseEvent | undefined;
  let deadLetter: DeadLetterInfo | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === "e") event = JSON.parse(fields[i + 1]) as FirehoseEvent;
    else if (fields[i] === "d") deadLetter = JSON.parse(fields[i + 1]) as DeadLetterInfo;
  }
  if (!event) return undefined;
  const entry: StoredEntry = { position, event, attempt };
  if (deadLetter) entry.deadLetter = deadLetter;
  return entry;
}

function parseRead(reply: unknown, attempt: number): StoredEntry[] {
  // XREAD/XREADGROUP: null or [[key, [[id, fields], …]]]
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const entries = (reply[0] as [string, RawEntry[]])[1] ?? [];
  return entries.map((raw) => parseEntry(raw, attempt)).filter((entry): entry is StoredEntry => entry !== undefined);
}

export function createRedisFirehose(options: RedisFirehoseOptions): Firehose {
  if (typeof options?.url !== "string" || !/^rediss?:\/\//.test(options.url)) {
    throw new FirehoseInputError("url", `expected a redis:// URL, got ${JSON.stringify(options?.url)}`);
  }
  const prefix = options.prefix ?? DEFAULT_FIREHOSE_OPTIONS.prefix;
  const maxLen = options.maxLen ?? DEFAULT_FIREHOSE_OPTIONS.maxLen;
  const redis = connectFailFast(options.url, options.tls);
  const keyOf = (stream: string) => `${prefix}:${stream}`;

  function xadd(stream: string, event: FirehoseEvent, deadLetter?: DeadLetterInfo): Promise<string> {
    const fields = ["e", JSON.stringify(event)];
    if (deadLetter) fields.push("d", JSON.stringify(deadLetter));
    return redis.run((client) => client.xadd(keyOf(stream), "MAXLEN", "~", maxLen, "*", ...fields) as Promise<string>);
  }

  const backend: FirehoseBackend = {
    append: (stream, event) => xadd(stream, event),
    async lastPosition(stream) {
      const last = (await redis.run((client) => client.xrevrange(keyOf(stream), "+", "-", "COUNT", 1))) as RawEntry[];
      return last.length ? last[0][0] : "0-0";
    },
    earliestPosition: "0-0",
    isPosition: (value) => POSITION.test(value),
    async ensureGroup(stream, group) {
      try {
        await redis.run((client) => client.xgroup("CREATE", keyOf(stream), group, "0", "MKSTREAM"));
      } catch (error) {
        if (!(error instanceof Error && error.message.startsWith("BUSYGROUP"))) throw error;
      }
    },
    async claimIdle(stream, group, consumer, idleMs, count) {
      const key = keyOf(stream);
      const reply = (await redis.run((client) => client.xautoclaim(key, group, consumer, idleMs, "0-0", "COUNT", count))) as [string, RawEntry[], string[]?];
      const raws = (reply[1] ?? []).filter((raw) => raw && Array.isArray(raw[1]));
      if (raws.length === 0) return [];
      // XAUTOCLAIM counted this delivery; XPENDING tells how many that makes.
      const pipeline = redis.client.pipeline();
      for (const [id] of raws) pipeline.xpending(key, group, id, id, 1);
      const counts = (await redis.run(() => pipeline.exec())) ?? [];
      return raws
        .map((raw, i) => {
          const row = (counts[i]?.[1] as Array<[string, string, number, number]> | undefined)?.[0];
          return parseEntry(raw, row ? Number(row[3]) : 2);
        })
        .filter((entry): entry is StoredEntry => entry !== undefined);
    },
    async ack(stream, group, positions) {
      await redis.run((client) => client.xack(keyOf(stream), group, ...positions));
    },
    async deadLetter(stream, group, entry, reason) {
      const info: DeadLetterInfo = { group, attempts: entry.attempt, position: entry.position, reason };
      await redis.run((client) =>
        client
          .multi()
          .xadd(keyOf(`${stream}.dead-letter`), "MAXLEN", "~", maxLen, "*", "e", JSON.stringify(entry.event), "d", JSON.stringify(info))
          .xack(keyOf(stream), group, entry.position)
          .exec(),
      );
    },
    openReader(): StreamReader {
      // Blocking reads hold their connection, so each reader gets its own.
      const connection = redis.duplicate();
      return {
        async read(stream, after, count, blockMs) {
          const reply = await connection.run((client) => client.call("XREAD", "COUNT", count, "BLOCK", blockMs, "STREAMS", keyOf(stream), after));
          return parseRead(reply, 1);
        },
        async readGroup(stream, group, consumer, count, blockMs) {
          const reply = await connection.run((client) =>
            client.call("XREADGROUP", "GROUP", group, consumer, "COUNT", count, "BLOCK", blockMs, "STREAMS", keyOf(stream), ">"),
          );
          return parseRead(reply, 1);
        },
        close() {
          connection.close();
        },
      };
    },
    async close() {
      redis.close();
    },
  };
  return createFirehoseOver(backend);
}
