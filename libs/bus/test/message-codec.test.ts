// The codec encrypts every message with AES-GCM under a fresh IV. IVs are drawn from the random
// generator in batches (codec.ts); an IV used twice under one key would expose both plaintexts
// and let an attacker forge messages, so no two messages may share one.
import { describe, expect, it } from "vitest";
import { createMessageCodec } from "../src/channel-layer/codec.ts";

describe("the message codec with an encryption key", () => {
  it("when thousands of messages are encoded, no two carry the same IV and each decodes to what was sent", () => {
    const codec = createMessageCodec(["secret"]);
    const ivs = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const message = { n: i, text: "x".repeat(i % 50) };
      const encoded = codec.encode(message);
      ivs.add(encoded.subarray(0, 12).toString("hex"));
      expect(codec.decode(encoded)).toEqual(message);
    }
    expect(ivs.size).toBe(5000);
  });

  it("when a message is encoded under the old key, a codec that rotated to a new one still reads it", () => {
    const old = createMessageCodec(["old"]);
    const rotated = createMessageCodec(["new", "old"]);
    expect(rotated.decode(old.encode({ a: 1 }))).toEqual({ a: 1 });
    expect(() => old.decode(rotated.encode({ a: 2 }))).toThrow(/could not be decrypted/);
  });
});
