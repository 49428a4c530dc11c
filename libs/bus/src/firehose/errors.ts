// The one error class of the firehose's own: bad input names the field instead of crashing later.

export class FirehoseInputError extends TypeError {
  readonly code = "INVALID_FIREHOSE_INPUT" as const;
  readonly field: string;
  constructor(field: string, reason: string) {
    super(`invalid firehose ${field}: ${reason}`);
    this.name = "FirehoseInputError";
    this.field = field;
  }
}
