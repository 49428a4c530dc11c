// Channel and group names (shared/reference/channel-layer.md, "Names"): checked the same way by
// every method of every backend.
import { InvalidChannelNameError } from "./errors.ts";

export const MAX_NAME_LENGTH = 99;
const CHANNEL_NAME = /^[A-Za-z0-9._-]+(![A-Za-z0-9._-]*)?$/;
const GROUP_NAME = /^[A-Za-z0-9._-]+$/;

function checkCommon(name: unknown, field: string): asserts name is string {
  if (typeof name !== "string") throw new InvalidChannelNameError(String(name), "must be a string", field);
  if (name.length === 0) throw new InvalidChannelNameError(name, "must not be empty", field);
  if (name.length > MAX_NAME_LENGTH) throw new InvalidChannelNameError(name, `longer than ${MAX_NAME_LENGTH} characters`, field);
}

export function assertChannelName(name: unknown, field = "channel"): asserts name is string {
  checkCommon(name, field);
  if (!CHANNEL_NAME.test(name)) {
    throw new InvalidChannelNameError(name, "only ASCII letters, digits, '-', '_', '.' and at most one '!' after a non-empty part", field);
  }
}

export function assertGroupName(name: unknown, field = "group"): asserts name is string {
  checkCommon(name, field);
  if (!GROUP_NAME.test(name)) throw new InvalidChannelNameError(name, "only ASCII letters, digits, '-', '_' and '.'", field);
}

/** The part up to and including `!` of a process-local channel, or undefined for a normal channel. */
export function nonLocalPart(channel: string): string | undefined {
  const bang = channel.indexOf("!");
  return bang < 0 ? undefined : channel.slice(0, bang + 1);
}
