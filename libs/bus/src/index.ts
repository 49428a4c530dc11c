// @boxoffice/bus: the channel layer (send/receive/groups), RPC over it, and the firehose.
// This file names every public export; nothing else in the package is importable.
export type { ChannelLayer, ChannelLayerOptions, ChannelLayerStats, Message, ReceiveManyOptions, ReceiveOptions, RedisChannelLayerOptions, RedisTlsOptions } from "./channel-layer/types.ts";
export { DEFAULT_CHANNEL_LAYER_OPTIONS } from "./channel-layer/types.ts";
export {
  BusUnavailableError,
  ChannelFullError,
  InvalidChannelNameError,
  InvalidMessageError,
  InvalidOptionError,
  MessageTooLargeError,
  ReceiveTimeoutError,
} from "./channel-layer/errors.ts";
export { createInMemoryChannelLayer } from "./channel-layer/in-memory-channel-layer.ts";
export { createRedisChannelLayer } from "./channel-layer/redis-channel-layer.ts";
export { createChannelLayer } from "./channel-layer/create-channel-layer.ts";
export { logRedisStateChanges } from "./channel-layer/redis-state-log.ts";
export type { RedisStateLogger } from "./channel-layer/redis-state-log.ts";
export { MAX_MESSAGE_JSON_BYTES } from "./channel-layer/codec.ts";
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
export { createFirehoseAdmin, firehoseStatsToPrometheus } from "./firehose/firehose-admin.ts";
export type { DeadLetter, FirehoseAdmin, GroupStats, StreamStats } from "./firehose/firehose-admin.ts";
export { createFirehose } from "./firehose/create-firehose.ts";
export { createOutboxRelay } from "./firehose/outbox-relay.ts";
export type { OutboxRelay, OutboxRelayOptions } from "./firehose/outbox-relay.ts";
export type { ProcessedEventLog, ProcessedEventLogOptions } from "./firehose/processed-event-log.ts";
export { createProcessedEventLog, DEFAULT_PROCESSED_EVENT_LOG_OPTIONS } from "./firehose/processed-event-log.ts";
// RPC: request/reply over the channel layer, validated by zod contracts.
export { defineMethod } from "./rpc/define-method.ts";
export type { MethodAccess, MethodDef } from "./rpc/define-method.ts";
export {
  createServiceIdentity,
  createServiceIdentityVerifier,
  DEFAULT_SERVICE_PROOF_TTL_MS,
  generateServiceIdentitySecret,
  parseServiceIdentities,
  serviceIdentityPublicKey,
} from "./rpc/service-identity.ts";
export type { ServiceIdentity, ServiceIdentityOptions, ServiceIdentityVerifier } from "./rpc/service-identity.ts";
export { InvalidRpcOptionError, RpcError, RpcErrorCodes, toRpcError } from "./rpc/errors.ts";
export type { RpcErrorCode, RpcErrorOptions, RpcErrorWire } from "./rpc/errors.ts";
export type { RpcContext, RpcReplyWire, RpcRequestWire } from "./rpc/context.ts";
export { createRpcClient, DEFAULT_RPC_CLIENT_OPTIONS } from "./rpc/rpc-client.ts";
export type { CallOptions, RpcClient, RpcClientOptions } from "./rpc/rpc-client.ts";
export { createRpcServer, DEFAULT_RPC_SERVER_OPTIONS, methodsServedBy } from "./rpc/rpc-server.ts";
export type { RpcHandler, RpcLogger, RpcServer, RpcServerOptions } from "./rpc/rpc-server.ts";
export { RPC_LATENCY_BUCKETS_MS } from "./rpc/rpc-server.ts";
export type { RpcMethodStats, RpcServerStats } from "./rpc/rpc-server.ts";
// Operator console: every process reports to a group; gateways collect (ops/ops-reports.ts).
export {
  createOpsCollector,
  createOpsReporter,
  DEFAULT_OPS_COLLECTOR_OPTIONS,
  DEFAULT_OPS_REPORTER_OPTIONS,
  OPS_REPORTS_GROUP,
  quantileFromBuckets,
  summariseOpsReports,
} from "./ops/ops-reports.ts";
export type {
  OpsChannelReport,
  OpsCollector,
  OpsCollectorOptions,
  OpsInstanceView,
  OpsMethodView,
  OpsOverviewPart,
  OpsProbedRouter,
  OpsReport,
  OpsReporter,
  OpsReporterOptions,
  OpsSample,
  OpsSeenReport,
  OpsShardReport,
  OpsShardView,
} from "./ops/ops-reports.ts";
// Tracing: the bus's spans (RPC client/server, firehose publish/process) use @opentelemetry/api only.
export { activeTraceparent, contextWithTraceparent, traceparentOf, tracingOn } from "./tracing/spans.ts";
