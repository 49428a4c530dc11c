// Validates layer options once, at construction, so a bad value fails with the field's name
// instead of misbehaving later.
import { createCapacityLookup } from "./capacity.ts";
import { InvalidOptionError } from "./errors.ts";
import { DEFAULT_CHANNEL_LAYER_OPTIONS } from "./types.ts";
import type { ChannelLayerOptions, RedisTlsOptions } from "./types.ts";

export interface ResolvedOptions {
  expiryMs: number;
  groupExpiryMs: number;
  prefix: string;
  symmetricEncryptionKeys: string[];
  tls: RedisTlsOptions;
  capacityOf: (channel: string) => number;
}

function positiveNumber(field: string, value: unknown, integer: boolean): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new InvalidOptionError(field, `must be a positive ${integer ? "integer" : "number"}, got ${String(value)}`);
  }
  return value;
}

export function resolveOptions(options: ChannelLayerOptions = {}): ResolvedOptions {
  if (typeof options !== "object" || options === null) throw new InvalidOptionError("options", "must be an object");
  const o = { ...DEFAULT_CHANNEL_LAYER_OPTIONS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  const expirySeconds = positiveNumber("expirySeconds", o.expirySeconds, false);
  const groupExpirySeconds = positiveNumber("groupExpirySeconds", o.groupExpirySeconds, false);
  const capacity = positiveNumber("capacity", o.capacity, true);
  if (!Array.isArray(o.channelCapacity)) throw new InvalidOptionError("channelCapacity", "must be an array of [pattern, capacity]");
  o.channelCapacity.forEach((rule, i) => {
    if (!Array.isArray(rule) || rule.length !== 2 || !(typeof rule[0] === "string" || rule[0] instanceof RegExp)) {
      throw new InvalidOptionError(`channelCapacity[${i}]`, "must be [glob string or RegExp, capacity]");
    }
    positiveNumber(`channelCapacity[${i}][1]`, rule[1], true);
  });
  if (typeof o.prefix !== "string" || !/^[A-Za-z0-9._-]{1,64}$/.test(o.prefix)) {
    throw new InvalidOptionError("prefix", "must be 1-64 of ASCII letters, digits, '.', '_', '-' (no ':', which separates key parts)");
  }
  if (!Array.isArray(o.symmetricEncryptionKeys) || o.symmetricEncryptionKeys.some((k) => typeof k !== "string" || k.length === 0)) {
    throw new InvalidOptionError("symmetricEncryptionKeys", "must be an array of non-empty strings");
  }
  if (typeof o.tls !== "object" || o.tls === null || Array.isArray(o.tls)) {
    throw new InvalidOptionError("tls", "must be an object ({ ca?, cert?, key?, servername? })");
  }
  return {
    expiryMs: Math.round(expirySeconds * 1000),
    groupExpiryMs: Math.round(groupExpirySeconds * 1000),
    prefix: o.prefix,
    symmetricEncryptionKeys: o.symmetricEncryptionKeys,
    tls: o.tls,
    capacityOf: createCapacityLookup(capacity, o.channelCapacity),
  };
}
