// Connects a process to the bus and the firehose from configuration alone: the same service code
// runs on the in-memory pair (one process) or on Redis (many processes).
import { createChannelLayer, createFirehose, type ChannelLayer, type Firehose } from "@boxoffice/bus";
import type { CommonConfig } from "./config.ts";

export interface Infrastructure {
  readonly layer: ChannelLayer;
  readonly firehose: Firehose;
  close(): Promise<void>;
}

/** Process-local channels ("name!local"): reply inboxes, sized apart from named channels. */
export const PROCESS_LOCAL_CHANNELS = /!/;

export function connectInfrastructure(config: Pick<CommonConfig, "BUS_URL" | "FIREHOSE_URL" | "BUS_PREFIX" | "BUS_REPLY_CAPACITY">): Infrastructure {
  const layer = createChannelLayer(config.BUS_URL, { prefix: config.BUS_PREFIX, channelCapacity: [[PROCESS_LOCAL_CHANNELS, config.BUS_REPLY_CAPACITY]] });
  const firehose = createFirehose(config.FIREHOSE_URL, { prefix: config.BUS_PREFIX });
  return {
    layer,
    firehose,
    async close() {
      await Promise.allSettled([firehose.close(), layer.close()]);
    },
  };
}
