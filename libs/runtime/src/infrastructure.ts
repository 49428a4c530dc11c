// Connects a process to the bus and the firehose from configuration alone: the same service code
// runs on the in-memory pair (one process) or on Redis (many processes).
import { readFileSync } from "node:fs";
import {
  createChannelLayer,
  createFirehose,
  createServiceIdentity,
  createServiceIdentityVerifier,
  parseServiceIdentities,
  type ChannelLayer,
  type Firehose,
  type RedisTlsOptions,
  type ServiceIdentity,
  type ServiceIdentityVerifier,
} from "@boxoffice/bus";
import type { CommonConfig } from "./config.ts";

type BusConfig = Pick<CommonConfig, "BUS_URL" | "FIREHOSE_URL" | "BUS_PREFIX"> &
  Partial<Pick<CommonConfig, "BUS_ENCRYPTION_KEYS" | "REDIS_TLS_CA_FILE" | "REDIS_USERNAME" | "REDIS_PASSWORD" | "BUS_REPLY_CAPACITY">>;

/** Process-local channels ("name!local"): reply inboxes, sized apart from named channels. */
export const PROCESS_LOCAL_CHANNELS = /!/;

/**
 * `urls` (comma-separated) with REDIS_USERNAME/REDIS_PASSWORD put into each redis(s):// URL that
 * has no credentials of its own; memory:// and URLs with user:password@ are left as they are.
 */
export function withRedisCredentials(urls: string, config: Partial<Pick<CommonConfig, "REDIS_USERNAME" | "REDIS_PASSWORD">>): string {
  if (!config.REDIS_PASSWORD) return urls;
  const userinfo = `${encodeURIComponent(config.REDIS_USERNAME ?? "")}:${encodeURIComponent(config.REDIS_PASSWORD)}@`;
  return urls
    .split(",")
    .map((url) => url.trim())
    // Only a redis(s):// URL whose authority (before the first "/") has no "@" gets them.
    .map((url) => (/^rediss?:\/\/[^/@]*(\/|$)/.test(url) ? url.replace(/^(rediss?:\/\/)/, `$1${userinfo}`) : url))
    .join(",");
}

export interface ServiceTrust {
  /** Give to createRpcClient: this service's proofs of identity. */
  identity?: ServiceIdentity;
  /** Give to createRpcServer: checks callers' proofs and each method's access. */
  identities?: ServiceIdentityVerifier;
}

/** The RPC identity settings of `service` from SERVICE_IDENTITY_SECRET / SERVICE_IDENTITIES. */
export function serviceTrust(config: Partial<Pick<CommonConfig, "SERVICE_IDENTITY_SECRET" | "SERVICE_IDENTITIES">>, service: string): ServiceTrust {
  return {
    identity: config.SERVICE_IDENTITY_SECRET ? createServiceIdentity({ service, secret: config.SERVICE_IDENTITY_SECRET }) : undefined,
    identities: config.SERVICE_IDENTITIES ? createServiceIdentityVerifier({ identities: parseServiceIdentities(config.SERVICE_IDENTITIES) }) : undefined,
  };
}

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
  const layer = createChannelLayer(withRedisCredentials(config.BUS_URL, config), {
    prefix: config.BUS_PREFIX,
    symmetricEncryptionKeys: config.BUS_ENCRYPTION_KEYS ?? [],
    tls,
    ...(config.BUS_REPLY_CAPACITY === undefined ? {} : { channelCapacity: [[PROCESS_LOCAL_CHANNELS, config.BUS_REPLY_CAPACITY] as [RegExp, number]] }),
  });
  const firehose = createFirehose(withRedisCredentials(config.FIREHOSE_URL, config), { prefix: config.BUS_PREFIX, tls });
  return {
    layer,
    firehose,
    async close() {
      await Promise.allSettled([firehose.close(), layer.close()]);
    },
  };
}
