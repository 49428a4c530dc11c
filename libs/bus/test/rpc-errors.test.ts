import { describe, expect, it } from "vitest";
import { RpcError, RpcErrorCodes, toRpcError } from "../src/index.ts";

class ShardDown extends Error {
  readonly code = "SHARD_UNAVAILABLE";
  readonly retryable = true;
}

describe("turning anything thrown into an RpcError", () => {
  it("when a handler throws a plain error, the caller sees INTERNAL and not its message", () => {
    const error = toRpcError(new Error("password column missing"));
    expect(error.code).toBe(RpcErrorCodes.INTERNAL);
    expect(error.message).not.toContain("password");
    expect(error.retryable).toBe(false);
  });

  it("when a store says retrying may help (a shard is down or moving), the caller sees a retryable UNAVAILABLE naming the reason", () => {
    const error = toRpcError(new ShardDown("shard inventory_1 unreachable at postgres://secret@db"));
    expect(error.code).toBe(RpcErrorCodes.UNAVAILABLE);
    expect(error.retryable).toBe(true);
    expect(error.details).toEqual({ reason: "SHARD_UNAVAILABLE" });
    expect(error.message).not.toContain("secret");
  });

  it("when an RpcError is thrown, it crosses unchanged", () => {
    const original = new RpcError("SOLD_OUT", "no seats left", { details: { eventId: "1" } });
    expect(toRpcError(original)).toBe(original);
  });
});
