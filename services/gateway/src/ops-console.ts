// The operator console's data (GET /api/ops/overview): what every process reported to the
// ops.reports group (this gateway collects them, and reports itself), the firehose's consumer
// groups read from Redis, and the waiting rooms with anyone in them.
import {
  createFirehoseAdmin,
  createOpsCollector,
  createOpsReporter,
  type ChannelLayer,
  type FirehoseAdmin,
  type OpsCollector,
  type OpsReporter,
  type OpsSample,
} from "@boxoffice/bus";
import type { HttpOpsOverview } from "@boxoffice/contracts";
import { withRedisCredentials } from "@boxoffice/runtime";
import type { GatewayConfig } from "./config.ts";
import type { WaitingRoom } from "./domain/waiting-room.ts";
import { GatewayError } from "./errors.ts";

/** The firehose streams, named after their aggregates (docs/architecture.md). */
export const FIREHOSE_STREAMS = ["events", "inventory", "payments", "users"] as const;

export interface OpsConsoleOptions {
  readonly config: Pick<GatewayConfig, "FIREHOSE_URL" | "BUS_PREFIX" | "REDIS_USERNAME" | "REDIS_PASSWORD">;
  readonly layer: ChannelLayer;
  readonly room: Pick<WaitingRoom, "occupiedRooms">;
  /** This gateway's own HTTP counters. */
  readonly sample: () => OpsSample;
  readonly reportIntervalMs?: number;
  readonly goneAfterMs?: number;
}

export interface OpsConsole {
  start(): Promise<void>;
  stop(): Promise<void>;
  overview(): Promise<HttpOpsOverview>;
}

export function createOpsConsole(options: OpsConsoleOptions): OpsConsole {
  const { config, layer, room } = options;
  const collector: OpsCollector = createOpsCollector({ layer, goneAfterMs: options.goneAfterMs });
  const reporter: OpsReporter = createOpsReporter({ layer, service: "gateway", sample: options.sample, intervalMs: options.reportIntervalMs });
  const firehoseUrl = config.FIREHOSE_URL.split(",")[0].trim();
  let admin: FirehoseAdmin | undefined;

  async function firehose(): Promise<HttpOpsOverview["firehose"]> {
    // The in-memory firehose of the embedded platform keeps no consumer-group stats: nothing to show.
    if (!/^rediss?:\/\//.test(firehoseUrl)) return [];
    admin ??= createFirehoseAdmin({ url: withRedisCredentials(firehoseUrl, config), prefix: config.BUS_PREFIX });
    let stats;
    try {
      stats = await admin.stats([...FIREHOSE_STREAMS]);
    } catch {
      throw new GatewayError("UNAVAILABLE", "the firehose cannot be read now; retry in a moment");
    }
    return stats.flatMap((s) => s.groups.map((g) => ({ stream: s.stream, group: g.group, lag: g.lag, pending: g.pending, deadLetters: s.deadLetters })));
  }

  return {
    async start() {
      await collector.start();
      reporter.start();
    },
    async stop() {
      await reporter.stop();
      await collector.stop();
      admin?.close();
    },
    async overview() {
      const [rooms, streams] = await Promise.all([room.occupiedRooms(), firehose()]);
      return { generatedAt: new Date().toISOString(), ...collector.overview(), firehose: streams, rooms };
    },
  };
}
