// Screenshots of the main pages: always under test-output/ (gitignored); with UPDATE_SCREENSHOTS=1
// the ones the README shows are also copied to docs/screenshots/.
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";

const OUTPUT_DIR = join(import.meta.dirname, "..", "test-output");
const DOCS_SCREENSHOTS = join(import.meta.dirname, "..", "..", "..", "docs", "screenshots");
const README_SCREENSHOTS = new Set(["events", "event-page", "event-page-phone", "checkout", "confirmation", "organiser-sales", "ops-console", "ops-console-phone", "venue-plan", "venue-plan-phone", "organiser-live", "organiser-live-phone"]);

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  const file = join(OUTPUT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  if (process.env.UPDATE_SCREENSHOTS === "1" && README_SCREENSHOTS.has(name)) {
    mkdirSync(DOCS_SCREENSHOTS, { recursive: true });
    copyFileSync(file, join(DOCS_SCREENSHOTS, `${name}.png`));
  }
}
