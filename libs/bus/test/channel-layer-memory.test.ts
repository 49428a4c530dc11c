import { describe, expect, it } from "vitest";
import { createChannelLayer, createInMemoryChannelLayer, InvalidOptionError } from "../src/index.ts";
import { channelLayerConformance } from "./conformance/channel-layer-conformance.ts";

channelLayerConformance({ name: "in-memory", create: (options) => createInMemoryChannelLayer(options) });
channelLayerConformance({ name: 'createChannelLayer("memory://")', create: (options) => createChannelLayer("memory://", options) });

describe("createChannelLayer", () => {
  it("when the URL names no known backend, it fails with InvalidOptionError naming url", () => {
    expect(() => createChannelLayer("kafka://x")).toThrow(InvalidOptionError);
    expect(() => createChannelLayer("kafka://x")).toThrow(/url/);
  });
});
