// The event list's cursor: opaque to clients (base64url JSON of the last row's start time and id),
// checked strictly here so a bad one is VALIDATION_FAILED rather than a database error.
import { invalidField } from "../errors.ts";
import type { ListPosition } from "../store/events-store.ts";

export function encodeListCursor(position: ListPosition): string {
  return Buffer.from(JSON.stringify({ s: position.startsAt, i: position.id })).toString("base64url");
}

export function decodeListCursor(cursor: string): ListPosition {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalidField("cursor", "is not a cursor this service issued");
  }
  const { s, i } = (value ?? {}) as { s?: unknown; i?: unknown };
  if (typeof s !== "string" || Number.isNaN(Date.parse(s)) || typeof i !== "string" || !/^\d{1,19}$/.test(i)) {
    throw invalidField("cursor", "is not a cursor this service issued");
  }
  return { startsAt: new Date(s).toISOString(), id: i };
}
