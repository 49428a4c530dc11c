// Connects a process to the bus and the firehose from configuration alone: the same service code
// runs on the in-memory pair (one process) or on Redis (many processes).
import { readFileSync } from "node:fs";
import { createChannelLayer, createFirehose, type ChannelLayer, type Firehose, type RedisTlsOptions } from "@boxoffice/bus";
import type { CommonConfig } from "./config.ts";

type BusConfig = Pick<CommonConfig, "BUS_URL" | "FIREHOSE_URL" | "BUS_PREFIX"> & Partial<Pick<CommonConfig, "BUS_ENCRYPTION_KEYS" | "REDIS_TLS_CA_FILE">>;

/** TLS settings for rediss:// URLs from the config (the CA file is read once, at start-up). */
export function redisTlsOf(config: Partial<Pick<CommonConfig, "REDIS_TLS_CA_FILE">>): RedisTlsOptions {
  return config.REDIS_TLS_CA_FILE ? { ca: readFileSync(config.REDIS_TLS_CA_FILE) } : {};
}

export interface Infrastructure {
  readonly layer: ChannelLayer;
  readonly firehose: Firehose;
  close(): Promise<void>;
}

export function connectInfrastructure(config: BusConfig): Infrastructure {
  const tls = redisTlsOf(config);
  // Encrypted at rest: passwords, card numbers and tokens cross the bus inside RPC messages.
  const layer = createChannelLayer(config.BUS_URL, { prefix: config.BUS_PREFIX, symmetricEncryptionKeys: config.BUS_ENCRYPTION_KEYS ?? [], tls });
  const firehose = createFirehose(config.FIREHOSE_URL, { prefix: config.BUS_PREFIX, tls });
  return {
    layer,
    firehose,
    async close() {
      await Promise.allSettled([firehose.close(), layer.close()]);
    },
  };
}
