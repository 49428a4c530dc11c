// The load gate's reading of answers: only 503 with Retry-After counts as being shed; a buyer
// answered 504 (or any other 5xx) was failed, not turned away, and fails the gate.
import { describe, expect, it } from "vitest";
import { answerKind } from "../src/index.ts";

const headers = (h: Record<string, string> = {}) => new Headers(h);

describe("how the on-sale harness reads an answer", () => {
  it("when a request is shed with 503 and Retry-After, the buyer was told to come back", () => {
    expect(answerKind(503, headers({ "retry-after": "1" }))).toBe("shed");
  });
  it("when a 503 has no Retry-After, it is counted apart (the gate fails on it)", () => {
    expect(answerKind(503, headers())).toBe("shed_without_retry_after");
  });
  it("when a deadline runs out as 504, or any other 5xx comes back, it is a server error, not shedding", () => {
    expect(answerKind(504, headers({ "retry-after": "1" }))).toBe("server_error");
    expect(answerKind(500, headers())).toBe("server_error");
    expect(answerKind(502, headers())).toBe("server_error");
  });
  it("when the answer is a success or a client error (sold out, limits), it is an answer", () => {
    expect(answerKind(201, headers())).toBe("answer");
    expect(answerKind(409, headers())).toBe("answer");
  });
});
