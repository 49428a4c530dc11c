// Small helpers every store that writes raw SQL through the router needs.

// Deadlock (40P01) and serialization failure (40001) are the database asking for a retry; the
// transactions that use this are short and idempotent when run again.
const TRANSIENT_SQLSTATES = new Set(["40P01", "40001"]);

/** Runs `fn` again (with a little jitter) while it fails with a deadlock or serialization failure. */
export async function withTransientRetry<T>(fn: () => Promise<T>, attempts = 8): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (attempt >= attempts || typeof code !== "string" || !TRANSIENT_SQLSTATES.has(code)) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
    }
  }
}

/** A timestamp column as ISO 8601 UTC, whichever driver (pg gives Date, PGlite may give text). */
export function toIsoTimestamp(value: unknown): string {
  return value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString();
}
