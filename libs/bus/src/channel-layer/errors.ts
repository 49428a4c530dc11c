// One error class per way the channel layer refuses; each carries a stable `code`.

export class ChannelFullError extends Error {
  readonly code = "CHANNEL_FULL" as const;
  constructor(readonly channel: string, readonly capacity: number) {
    super(`channel ${channel} is full (capacity ${capacity})`);
    this.name = "ChannelFullError";
  }
}

export class InvalidChannelNameError extends TypeError {
  readonly code = "INVALID_CHANNEL_NAME" as const;
  constructor(readonly channelName: string, reason: string) {
    super(`invalid channel or group name ${JSON.stringify(channelName)}: ${reason}`);
    this.name = "InvalidChannelNameError";
  }
}

export class MessageTooLargeError extends Error {
  readonly code = "MESSAGE_TOO_LARGE" as const;
  constructor(readonly size: number, readonly limit: number) {
    super(`message of ${size} bytes exceeds the limit of ${limit} bytes`);
    this.name = "MessageTooLargeError";
  }
}

export class ReceiveTimeoutError extends Error {
  readonly code = "RECEIVE_TIMEOUT" as const;
  constructor(readonly channel: string, readonly timeoutMs: number) {
    super(`no message on ${channel} within ${timeoutMs} ms`);
    this.name = "ReceiveTimeoutError";
  }
}

export class BusUnavailableError extends Error {
  readonly code = "BUS_UNAVAILABLE" as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BusUnavailableError";
  }
}
