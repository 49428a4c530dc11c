import { describe, expect, it } from "vitest";
import { RpcError } from "@boxoffice/bus";
import { ERROR_CODE_INFO } from "@boxoffice/contracts";
import { HTTP_ERRORS, toHttpError } from "../src/errors.ts";

describe("the error map", () => {
  it("when a code crosses the bus, the gateway answers the status the contracts give it, with a message for people", () => {
    for (const [code, info] of Object.entries(ERROR_CODE_INFO)) {
      const reply = toHttpError(new RpcError(code, `service says ${code}`), { busyRetryAfterSeconds: 2 });
      expect(reply.status, code).toBe(info.status);
      // A deadline that ran out is shed load to an HTTP client: UNAVAILABLE, like a service that is away.
      expect(reply.body.error.code, code).toBe(code === "DEADLINE_EXCEEDED" ? "UNAVAILABLE" : code);
      if (info.status === 503) expect(reply.retryAfterSeconds, code).toBe(2);
      expect(HTTP_ERRORS[code as keyof typeof HTTP_ERRORS].message.length, code).toBeGreaterThan(0);
    }
  });

  it("when a service fails internally, its message never reaches the browser", () => {
    const reply = toHttpError(new RpcError("INTERNAL", "stack trace with secrets"), { busyRetryAfterSeconds: 2 });
    expect(reply.status).toBe(500);
    expect(reply.body.error.message).not.toContain("secrets");
  });

  it("when a newer service sends a code the gateway does not know, the code is kept and the status says whether retrying helps", () => {
    expect(toHttpError(new RpcError("SEASON_CLOSED", "closed"), { busyRetryAfterSeconds: 2 })).toMatchObject({ status: 409, body: { error: { code: "SEASON_CLOSED" } } });
    expect(toHttpError(new RpcError("WARMING_UP", "wait", { retryable: true }), { busyRetryAfterSeconds: 2 }).status).toBe(503);
  });

  it("when a service is unavailable (a shard moving, a store down), the 503 says when to come back, like BUSY", () => {
    const moving = new RpcError("UNAVAILABLE", "a store is briefly unavailable; retry", { details: { reason: "SHARD_MOVING" } });
    expect(toHttpError(moving, { busyRetryAfterSeconds: 2 })).toMatchObject({ status: 503, retryAfterSeconds: 2, body: { error: { code: "UNAVAILABLE" } } });
    expect(toHttpError(new RpcError("BUSY", "full"), { busyRetryAfterSeconds: 2 })).toMatchObject({ status: 503, retryAfterSeconds: 2 });
    expect(toHttpError(new RpcError("WARMING_UP", "wait", { retryable: true }), { busyRetryAfterSeconds: 2 })).toMatchObject({ status: 503, retryAfterSeconds: 2 });
  });

  it("when a service answers RATE_LIMITED with its own wait, the 429 carries it as Retry-After", () => {
    const waiting = new RpcError("RATE_LIMITED", "too many failed sign-in attempts; try again in 120 s", { retryable: true, details: { retryAfterSeconds: 120 } });
    expect(toHttpError(waiting, { busyRetryAfterSeconds: 2 })).toMatchObject({ status: 429, retryAfterSeconds: 120 });
    expect(toHttpError(new RpcError("RATE_LIMITED", "no wait given"), { busyRetryAfterSeconds: 2 }).retryAfterSeconds).toBeUndefined();
  });

  it("when something that is not an error is thrown, the answer is a plain 500 INTERNAL", () => {
    expect(toHttpError("boom", { busyRetryAfterSeconds: 2 })).toMatchObject({ status: 500, body: { error: { code: "INTERNAL" } } });
  });
});
