// Starts the embedded platform for a test file: a free port, a temporary DATA_DIR, a few small
// demo events (the 20,000-seat one would only slow the tests), and helpers to find them.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "@boxoffice/testkit";
import { loadPlatformConfig } from "../src/config.ts";
import type { DemoEvent } from "../src/demo-data.ts";
import { startEmbeddedPlatform, type EmbeddedPlatform } from "../src/embedded.ts";

export interface PlatformFixture {
  readonly platform: EmbeddedPlatform;
  readonly url: string;
  /** Event id by title, once inventory has created its seats. */
  eventId(title: string): Promise<string>;
  close(): Promise<void>;
}

export function smallEvent(title: string, seats = 24): DemoEvent {
  return { title, venue: "Harbour Hall", daysFromNow: 5, sections: [{ name: "Stalls", rows: Math.ceil(seats / 12), seatsPerRow: 12, priceCents: 2500 }] };
}

export async function startPlatformFixture(options: { holdTtlSeconds?: number; events: DemoEvent[] }): Promise<PlatformFixture> {
  const dataDir = mkdtempSync(join(tmpdir(), "boxoffice-e2e-"));
  const config = loadPlatformConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    HOLD_TTL_SECONDS: String(options.holdTtlSeconds ?? 600),
    LOG_LEVEL: "error",
  });
  // Only what the platform documents, not the test runner's environment.
  const platform = await startEmbeddedPlatform(config, { env: {}, demoEvents: options.events });
  const url = platform.url;
  return {
    platform,
    url,
    async eventId(title) {
      return waitFor(async () => {
        const response = await fetch(`${url}/api/events?limit=100`);
        const body = (await response.json()) as { events: Array<{ id: string; title: string; available: number }> };
        const event = body.events.find((e) => e.title === title);
        return event && event.available > 0 ? event.id : undefined;
      }, { what: `event "${title}" on sale with seats`, timeoutMs: 30_000, intervalMs: 200 });
    },
    async close() {
      await platform.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
