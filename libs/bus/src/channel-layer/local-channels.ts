// Process-local (`!`) channels: names minted by one layer instance, readable only by it.
import { randomBytes } from "node:crypto";
import { InvalidChannelNameError } from "./errors.ts";
import { assertGroupName, MAX_NAME_LENGTH, nonLocalPart } from "./names.ts";

export function newInstanceId(): string {
  return randomBytes(6).toString("hex");
}

export function createChannelNamer(instanceId: string): { mint(prefix?: unknown): string; assertOwned(channel: string): void } {
  let counter = 0;
  const suffix = `.${instanceId}!`;
  return {
    mint(prefix = "specific") {
      assertGroupName(prefix, "prefix");
      counter += 1;
      const name = `${prefix}${suffix}${counter.toString(36)}${randomBytes(4).toString("hex")}`;
      if (name.length > MAX_NAME_LENGTH) throw new InvalidChannelNameError(prefix, "too long to build a channel name from", "prefix");
      return name;
    },
    assertOwned(channel) {
      const nonLocal = nonLocalPart(channel);
      if (nonLocal !== undefined && !nonLocal.endsWith(suffix)) {
        throw new InvalidChannelNameError(channel, "a process-local channel can only be received on by the layer instance that created it (newChannel)");
      }
    },
  };
}
