import { describe, expect, it } from "vitest";
import { emailSchema, ERROR_CODE_INFO, ErrorCodes, idSchema, moneyCentsSchema, pageRequestSchema } from "../src/index.ts";

describe("shared contract pieces", () => {
  it("when an email has capitals and spaces, it is normalised to one lower-case spelling", () => {
    expect(emailSchema.parse("  Alice@Example.COM ")).toBe("alice@example.com");
  });

  it("when an email is not an email, validation names the problem instead of throwing elsewhere", () => {
    const result = emailSchema.safeParse("not-an-email");
    expect(result.success).toBe(false);
  });

  it("when money is fractional or negative, it is refused", () => {
    expect(moneyCentsSchema.safeParse(12.5).success).toBe(false);
    expect(moneyCentsSchema.safeParse(-1).success).toBe(false);
    expect(moneyCentsSchema.parse(2500)).toBe(2500);
  });

  it("when no limit is given, a page holds 20 items; over 100 is refused", () => {
    expect(pageRequestSchema.parse({})).toEqual({ limit: 20 });
    expect(pageRequestSchema.safeParse({ limit: 101 }).success).toBe(false);
  });

  it("when an id has characters outside the id alphabet, it is refused", () => {
    expect(idSchema.safeParse("123456789012345678").success).toBe(true);
    expect(idSchema.safeParse("1; drop table").success).toBe(false);
  });

  it("every error code has an HTTP status and a description", () => {
    for (const code of Object.values(ErrorCodes)) {
      expect(ERROR_CODE_INFO[code].status, code).toBeGreaterThanOrEqual(400);
      expect(ERROR_CODE_INFO[code].description.length, code).toBeGreaterThan(10);
    }
  });
});
