// Real Chromium for end-to-end tests: the Debian binary driven by playwright-core (never a
// downloaded browser). Missing Chromium skips the browser tests with a reason, or fails them under
// REQUIRE_SERVICES=1 (CI), like Redis and Postgres do.
import { existsSync } from "node:fs";
import { REQUIRE_SERVICES } from "@boxoffice/testkit";
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export interface ChromiumProbe {
  readonly available: boolean;
  readonly reason: string;
}

export function requireChromium(): ChromiumProbe {
  if (existsSync(CHROMIUM_PATH)) return { available: true, reason: "" };
  const reason = `Chromium is not installed at ${CHROMIUM_PATH} (apt-get install chromium, or tools/ensure-services.sh)`;
  if (REQUIRE_SERVICES) throw new Error(`REQUIRE_SERVICES=1 but ${reason}`);
  console.warn(`[skip] ${reason}: browser tests are skipped`);
  return { available: false, reason };
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"],
  });
}
