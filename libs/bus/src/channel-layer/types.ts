// The channel layer contract (shared/reference/channel-layer.md). Both backends implement it.

/** A plain object; values are string, number, boolean, null, Uint8Array, arrays and plain objects of these. */
export type Message = { [key: string]: unknown };

export interface ReceiveOptions {
  /** Aborting rejects the receive with the signal's reason; no message is lost. */
  signal?: AbortSignal;
  /** Rejects with ReceiveTimeoutError after this many milliseconds; no message is lost. */
  timeoutMs?: number;
}

export interface ReceiveManyOptions extends ReceiveOptions {
  /** Most messages one call returns. Default 64. */
  max?: number;
}

/** Counters a layer exposes so operators can see what it dropped on purpose. */
export interface ChannelLayerStats {
  /** Member channels a groupSend skipped because they were full (groupSend never throws for that). */
  groupSendSkippedFull: number;
  /** Messages discarded unread because they outlived expirySeconds. */
  expiredDropped: number;
  /** Messages that could not be decrypted or decoded (e.g. a key missing from symmetricEncryptionKeys). */
  undecodableDropped: number;
  /** Process-local messages dropped because their channel's in-process buffer was full (nobody reading). */
  localBufferDropped: number;
}

export interface ChannelLayer {
  /** Includes "groups" and "flush". */
  readonly extensions: readonly string[];
  /** Live counters; both built-in backends provide them. */
  readonly stats?: Readonly<ChannelLayerStats>;
  send(channel: string, message: Message): Promise<void>;
  /**
   * Messages waiting on a named channel now, and its capacity (extension "depth"; both built-in
   * backends have it). Redis counts unread entries that may already have expired.
   */
  depth?(channel: string): Promise<{ depth: number; capacity: number }>;
  receive(channel: string, options?: ReceiveOptions): Promise<Message>;
  /**
   * Extension "receiveMany" (both built-in backends): waits like `receive` for the first message,
   * and returns it with those behind it that the layer already holds, up to `max`, oldest first.
   * Each message is delivered once, as by `receive`; an aborted or timed-out call loses none.
   */
  receiveMany?(channel: string, options?: ReceiveManyOptions): Promise<Message[]>;
  newChannel(prefix?: string): Promise<string>;
  groupAdd(group: string, channel: string): Promise<void>;
  groupDiscard(group: string, channel: string): Promise<void>;
  groupSend(group: string, message: Message): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface ChannelLayerOptions {
  /** Seconds an unread message lives. Default 60. */
  expirySeconds?: number;
  /** Seconds a group membership lives after its last groupAdd. Default 86400. */
  groupExpirySeconds?: number;
  /** Messages a channel holds before send fails with ChannelFullError. Default 100. */
  capacity?: number;
  /** Per-channel capacities; a string is a glob ("tiny*"); the first match wins. */
  channelCapacity?: Array<[pattern: string | RegExp, capacity: number]>;
  /** Key prefix in the backing store. Default "asgi". */
  prefix?: string;
  /** First key encrypts, all keys decrypt (rotation). Redis backend only. */
  symmetricEncryptionKeys?: string[];
  /** TLS settings for rediss:// hosts (a private CA, a client certificate). Redis backend only. */
  tls?: RedisTlsOptions;
}

/**
 * How to trust a rediss:// server (and prove who we are to it). The URL turns TLS on; these say
 * which CA signs the server's certificate. Default: the system's CAs, certificate checked.
 */
export interface RedisTlsOptions {
  /** PEM of the CA(s) that sign the server certificate. Default: Node's bundled CAs. */
  ca?: string | Buffer;
  /** PEM client certificate and key, for servers that require them (tls-auth-clients yes). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Name checked against the certificate when it differs from the URL's host. */
  servername?: string;
}

export const DEFAULT_CHANNEL_LAYER_OPTIONS = {
  expirySeconds: 60,
  groupExpirySeconds: 86_400,
  capacity: 100,
  channelCapacity: [] as Array<[string | RegExp, number]>,
  prefix: "asgi",
  symmetricEncryptionKeys: [] as string[],
  tls: {} as RedisTlsOptions,
} satisfies Required<ChannelLayerOptions>;

export interface RedisChannelLayerOptions extends ChannelLayerOptions {
  /** redis:// URLs, one per host; the keyspace is sharded across them by a consistent hash. */
  hosts: string[];
}
