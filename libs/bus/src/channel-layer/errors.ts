// One error class per way the channel layer refuses; each carries a stable `code` and its context.

export class ChannelFullError extends Error {
  readonly code = "CHANNEL_FULL" as const;
  readonly channel: string;
  readonly capacity: number;
  constructor(channel: string, capacity: number) {
    super(`channel ${channel} is full (capacity ${capacity})`);
    this.name = "ChannelFullError";
    this.channel = channel;
    this.capacity = capacity;
  }
}

export class InvalidChannelNameError extends TypeError {
  readonly code = "INVALID_CHANNEL_NAME" as const;
  readonly channelName: string;
  /** Which argument was wrong: "channel", "group" or "prefix". */
  readonly field: string;
  constructor(channelName: string, reason: string, field = "channel") {
    super(`invalid ${field} name ${JSON.stringify(channelName)}: ${reason}`);
    this.name = "InvalidChannelNameError";
    this.channelName = channelName;
    this.field = field;
  }
}

export class MessageTooLargeError extends Error {
  readonly code = "MESSAGE_TOO_LARGE" as const;
  readonly size: number;
  readonly limit: number;
  constructor(size: number, limit: number) {
    super(`message of ${size} bytes (as JSON) exceeds the limit of ${limit} bytes`);
    this.name = "MessageTooLargeError";
    this.size = size;
    this.limit = limit;
  }
}

export class ReceiveTimeoutError extends Error {
  readonly code = "RECEIVE_TIMEOUT" as const;
  readonly channel: string;
  readonly timeoutMs: number;
  constructor(channel: string, timeoutMs: number) {
    super(`no message on ${channel} within ${timeoutMs} ms`);
    this.name = "ReceiveTimeoutError";
    this.channel = channel;
    this.timeoutMs = timeoutMs;
  }
}

export class BusUnavailableError extends Error {
  readonly code = "BUS_UNAVAILABLE" as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BusUnavailableError";
  }
}

/** A message that is not a plain object of supported values; `field` names the offending path. */
export class InvalidMessageError extends TypeError {
  readonly code = "INVALID_MESSAGE" as const;
  readonly field: string;
  constructor(field: string, reason: string) {
    super(`invalid message at ${field}: ${reason}`);
    this.name = "InvalidMessageError";
    this.field = field;
  }
}

/** A layer option or receive option out of range; `field` names it. */
export class InvalidOptionError extends TypeError {
  readonly code = "INVALID_OPTION" as const;
  readonly field: string;
  constructor(field: string, reason: string) {
    super(`invalid option ${field}: ${reason}`);
    this.name = "InvalidOptionError";
    this.field = field;
  }
}
