// @boxoffice/bus: the channel layer (send/receive/groups), RPC over it, and the firehose.
// This file names every public export; nothing else in the package is importable.
export type { ChannelLayer, ChannelLayerOptions, Message, ReceiveOptions, RedisChannelLayerOptions } from "./channel-layer/types.ts";
export { DEFAULT_CHANNEL_LAYER_OPTIONS } from "./channel-layer/types.ts";
export {
  BusUnavailableError,
  ChannelFullError,
  InvalidChannelNameError,
  MessageTooLargeError,
  ReceiveTimeoutError,
} from "./channel-layer/errors.ts";
// Firehose: at-least-once event streams (in-memory and Redis Streams).
export type {
  ConsumeOptions,
  Consumer,
  DeadLetterInfo,
  Delivery,
  EventHandler,
  Firehose,
  FirehoseEvent,
  FirehoseOptions,
  PublishInput,
  RedisFirehoseOptions,
  StreamPosition,
  SubscribeOptions,
  Subscription,
} from "./firehose/types.ts";
export { DEFAULT_CONSUME_OPTIONS, DEFAULT_FIREHOSE_OPTIONS } from "./firehose/types.ts";
export { FirehoseInputError } from "./firehose/errors.ts";
export { createInMemoryFirehose } from "./firehose/in-memory-firehose.ts";
export { createRedisFirehose } from "./firehose/redis-firehose.ts";
export { createFirehose } from "./firehose/create-firehose.ts";
export type { ProcessedEventLog, ProcessedEventLogOptions } from "./firehose/processed-event-log.ts";
export { createProcessedEventLog, DEFAULT_PROCESSED_EVENT_LOG_OPTIONS } from "./firehose/processed-event-log.ts";
