// The conformance suite against the real Redis: one host, then ten databases of it as ten hosts.
// Each file uses its own key prefix and only ever flushes that prefix.
import { requireRedis, uniqueName } from "@boxoffice/testkit";
import { describe } from "vitest";
import { createChannelLayer, createRedisChannelLayer } from "../src/index.ts";
import { channelLayerConformance } from "./conformance/channel-layer-conformance.ts";

const redis = await requireRedis();
const base = redis.url.replace(/\/\d*$/, "");
const prefix = uniqueName("cl_redis");
const tenHosts = Array.from({ length: 10 }, (_, db) => `${base}/${db}`);

describe.skipIf(!redis.available)(`Redis channel layer (${redis.reason || redis.url})`, () => {
  channelLayerConformance({ name: "Redis, one host", create: (options) => createRedisChannelLayer({ prefix, ...options, hosts: [redis.url] }) });
  channelLayerConformance({
    name: "Redis, databases 0-9 as ten hosts",
    create: (options) => createChannelLayer(tenHosts.join(","), { prefix: `${prefix}_multi`, ...options }),
  });
});
