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
