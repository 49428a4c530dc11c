import type { RedisTlsOptions } from "../channel-layer/types.ts";
// The firehose contract: typed events on named streams, at-least-once. Both backends (in-memory and
// Redis Streams) implement `Firehose` through the same engine, so they share one set of semantics.

export interface FirehoseEvent<T = unknown> {
  /** Unique per event; consumers record it to stay idempotent across redeliveries. */
  id: string;
  /** Contract name, e.g. "payment.captured.v1". */
  type: string;
  /** The number in the type's ".v<N>" suffix. */
  version: number;
  /** ISO 8601 time the change happened. */
  occurredAt: string;
  /** Aggregate id; events with the same key reach a consumer group in publish order. */
  key: string;
  data: T;
  /** W3C trace context of the publish, when traced: the consumer's span joins that trace. */
  traceparent?: string;
}

export interface PublishInput<T = unknown> {
  type: string;
  version: number;
  key: string;
  data: T;
  /** Defaults to a random UUID. Give one to make a re-publish recognisable as the same event. */
  id?: string;
  /** Defaults to now. */
  occurredAt?: string;
  /**
   * The trace this event belongs to (an outbox row stores its writer's): the publish span is its
   * child. Default: the span running now, if any.
   */
  traceparent?: string;
}

/** Where a broadcast subscription starts: only new events, everything retained, or after a position seen earlier. */
export type StreamPosition = "latest" | "earliest" | (string & {});

export interface SubscribeOptions {
  /** Default "latest". A position is exclusive: delivery starts with the event after it. */
  from?: StreamPosition;
  /** Called when a handler throws; broadcast delivery goes on with the next event. */
  onError?: (error: unknown, event?: FirehoseEvent) => void;
}

export interface ConsumeOptions {
  /** Consumer group name; every group sees every event once (at least once). */
  group: string;
  /** This consumer's name within the group; unique per process. */
  consumer: string;
  /** An event not acknowledged within this time is redelivered to another consumer. Default 30000. */
  visibilityTimeoutMs?: number;
  /** Deliveries before an event goes to "<stream>.dead-letter" (and is acknowledged). Default 5. */
  maxAttempts?: number;
  /** Events fetched at once; same-key events in a batch are handled one after another. Default 16. */
  batchSize?: number;
  /** Called when a handler throws (the event is retried later) or the backend fails (the loop resumes). */
  onError?: (error: unknown, event?: FirehoseEvent) => void;
}

export const DEFAULT_CONSUME_OPTIONS = {
  visibilityTimeoutMs: 30_000,
  maxAttempts: 5,
  batchSize: 16,
} satisfies Partial<Required<ConsumeOptions>>;

export interface DeadLetterInfo {
  group: string;
  attempts: number;
  /** Position of the event in its original stream. */
  position: string;
  reason: string;
}

export interface Delivery {
  stream: string;
  /** Pass to `subscribe({ from })` to resume after this event. */
  position: string;
  /** 1 on first delivery; higher on redelivery (always 1 for broadcast subscriptions). */
  attempt: number;
  /** Set for events read from a "<stream>.dead-letter" stream. */
  deadLetter?: DeadLetterInfo;
}

export type EventHandler<T = unknown> = (event: FirehoseEvent<T>, delivery: Delivery) => Promise<void> | void;

export interface Subscription {
  /** Resolves once the start position is fixed: events published after this are seen. */
  readonly ready: Promise<void>;
  /** Position of the last event handed to the handler, if any. */
  readonly position: string | undefined;
  close(): Promise<void>;
}

export interface Consumer {
  /** Resolves once the group exists. */
  readonly ready: Promise<void>;
  /** Stops at once; events taken but not acknowledged are redelivered after the visibility timeout. */
  close(): Promise<void>;
}

export interface Firehose {
  publish<T>(stream: string, input: PublishInput<T>): Promise<FirehoseEvent<T>>;
  subscribe<T = unknown>(stream: string, options: SubscribeOptions, handler: EventHandler<T>): Subscription;
  consume<T = unknown>(stream: string, options: ConsumeOptions, handler: EventHandler<T>): Consumer;
  close(): Promise<void>;
}

export interface FirehoseOptions {
  /** Key prefix in Redis. Default "firehose". */
  prefix?: string;
  /** Approximate number of events a stream retains (XADD MAXLEN ~). Default 100000. */
  maxLen?: number;
}

export const DEFAULT_FIREHOSE_OPTIONS = {
  prefix: "firehose",
  maxLen: 100_000,
} satisfies Required<FirehoseOptions>;

export interface RedisFirehoseOptions extends FirehoseOptions {
  /** redis:// or rediss:// URL, optionally with user:password@. */
  url: string;
  /** TLS settings for a rediss:// URL (a private CA). */
  tls?: RedisTlsOptions;
}
