import { RpcError } from "@boxoffice/bus";
import { describe, expect, it } from "vitest";
import { decodeListCursor, encodeListCursor } from "../src/domain/list-cursor.ts";

describe("event list cursor", () => {
  it("when a cursor is issued, it reads back as the same position and reveals no structure at a glance", () => {
    const position = { startsAt: "2027-01-01T20:00:00.000Z", id: "123456789012345" };
    const cursor = encodeListCursor(position);
    expect(cursor).toMatch(/^[\w-]+$/);
    expect(decodeListCursor(cursor)).toEqual(position);
  });

  it("when a cursor was not issued by the service, it is VALIDATION_FAILED naming the cursor", () => {
    for (const bad of ["%%%", Buffer.from("[]").toString("base64url"), Buffer.from(JSON.stringify({ s: "2027-01-01T00:00:00Z", i: "1 or 1=1" })).toString("base64url")]) {
      try {
        decodeListCursor(bad);
        expect.unreachable(`accepted ${bad}`);
      } catch (error) {
        expect(error).toBeInstanceOf(RpcError);
        expect((error as RpcError).code).toBe("VALIDATION_FAILED");
        expect(JSON.stringify((error as RpcError).details)).toContain("cursor");
      }
    }
  });
});
