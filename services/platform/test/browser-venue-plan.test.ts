// End to end in real Chromium on the 20,000-seat demo event: the venue plan first (no seat data),
// one named section's seats, a specific seat bought, and the organiser's live view moving with it.
// The page's bytes and time to interactive are held to a budget (figures in BENCHMARKS.md).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { DEMO_BUYER, DEMO_EVENTS, DEMO_ORGANIZER, HOT_EVENT_TITLE } from "../src/demo-data.ts";
import { expectAccessible } from "./accessibility.ts";
import { launchChromium, requireChromium } from "./chromium.ts";
import { startPlatformFixture, type PlatformFixture } from "./platform-fixture.ts";
import { screenshot } from "./screenshots.ts";

const chromiumProbe = requireChromium();
/** Budgets, not benchmarks: generous bounds a loaded CI machine still meets (the measured figures are far below). */
const FIRST_PAINT_BYTES_BUDGET = 300 * 1024;
const INTERACTIVE_MS_BUDGET = 1500;
const SECTION = "Lower Bowl";

let fixture: PlatformFixture;
let browser: Browser;
let eventId: string;

/** Bytes on the wire (headers and bodies, as received) for every response of a page, from Chromium's own accounting. */
async function countBytes(page: Page): Promise<{ bytes(): number; urls(): string[] }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  const urlOf = new Map<string, string>();
  const finished: Array<{ url: string; bytes: number }> = [];
  cdp.on("Network.requestWillBeSent", (e) => urlOf.set(e.requestId, e.request.url));
  cdp.on("Network.loadingFinished", (e) => finished.push({ url: urlOf.get(e.requestId) ?? "", bytes: e.encodedDataLength }));
  return { bytes: () => finished.reduce((sum, f) => sum + f.bytes, 0), urls: () => finished.map((f) => f.url) };
}

async function signIn(context: BrowserContext, account: { email: string; password: string }, next = "/"): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${fixture.url}/#/signin?next=${encodeURIComponent(next)}`);
  await page.getByLabel("Email").fill(account.email);
  await page.getByLabel("Password").fill(account.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  return page;
}

describe.skipIf(!chromiumProbe.available)("the venue plan of the 20,000-seat demo event", () => {
  beforeAll(async () => {
    // The demo's stadium as it is, except that its sale is open now (the demo opens it 3 minutes after start).
    const stadium = { ...DEMO_EVENTS.find((e) => e.title === HOT_EVENT_TITLE)!, salesOpenInMinutes: undefined };
    [fixture, browser] = await Promise.all([startPlatformFixture({ events: [stadium] }), launchChromium()]);
    eventId = await fixture.eventId(HOT_EVENT_TITLE);
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await fixture?.close();
  }, 180_000);

  it("when a buyer opens the event, the plan is interactive within budget without any seat data; picking a seat in Lower Bowl buys it, and the organiser's chart moves within 2 s", async () => {
    const organiserContext = await browser.newContext({ viewport: { width: 1200, height: 1000 } });
    const organiser = await signIn(organiserContext, DEMO_ORGANIZER, `/organiser/events/${eventId}`);
    // Setup, not a budget: signing in (scrypt) on a machine this loaded can take a while.
    await organiser.getByRole("heading", { name: `Sales: ${HOT_EVENT_TITLE}` }).waitFor({ timeout: 90_000 });
    await organiser.getByText("● Live").waitFor();
    const chart = organiser.locator("svg.sales-chart");
    // Drawn once the sold and held seats are counted (20,000 seats, read once per section).
    await chart.waitFor({ timeout: 60_000 });
    const ticketsBefore = Number(await chart.getAttribute("data-tickets"));

    const buyerContext = await browser.newContext({ viewport: { width: 1200, height: 1000 } });
    const signedIn = await signIn(buyerContext, DEMO_BUYER);
    await signedIn.getByRole("heading", { name: "Events on sale" }).waitFor();
    await signedIn.close();
    // A fresh page load of the event's address (a new context: nothing cached), three times: bytes
    // from the first, time to interactive the fastest — the machine is shared, and the budget is
    // about what the page costs, not about what the neighbours run.
    const loads: Array<{ bytes: number; interactiveMs: number; seatRequests: string[] }> = [];
    let lastPage: Page | undefined;
    let lastCounter: Awaited<ReturnType<typeof countBytes>> | undefined;
    for (let i = 0; i < 3; i++) {
      const context = i === 2 ? buyerContext : await browser.newContext({ viewport: { width: 1200, height: 1000 } });
      const page = await context.newPage();
      const counter = await countBytes(page);
      await page.goto(`${fixture.url}/#/events/${eventId}`);
      await page.getByRole("button", { name: /^Lower Bowl, \$85\.00, 7,500 of 7,500 seats left$/ }).waitFor();
      await page.waitForFunction(() => document.documentElement.dataset.ready === "true");
      const interactiveMs = await page.evaluate(() => performance.getEntriesByName("event-page-interactive")[0]?.startTime ?? Number.NaN);
      loads.push({ bytes: counter.bytes(), interactiveMs, seatRequests: counter.urls().filter((u) => u.includes("/seats")) });
      if (i === 2) [lastPage, lastCounter] = [page, counter];
      else await context.close();
    }
    if (!lastPage || !lastCounter) throw new Error("no buyer page");
    const [buyer, wire] = [lastPage, lastCounter];
    const firstPaintBytes = loads[0].bytes;
    const interactiveMs = Math.min(...loads.map((l) => l.interactiveMs));
    console.log(`[venue plan] first paint of the 20,000-seat event: ${loads.map((l) => `${(l.bytes / 1024).toFixed(1)} KB, interactive at ${l.interactiveMs.toFixed(0)} ms`).join("; ")}`);
    for (const load of loads) expect(load.seatRequests, "the first paint fetches no seat data").toEqual([]);
    expect(firstPaintBytes, `bytes transferred for the first paint (budget ${FIRST_PAINT_BYTES_BUDGET})`).toBeLessThan(FIRST_PAINT_BYTES_BUDGET);
    expect(interactiveMs, `ms to interactive, fastest of three (budget ${INTERACTIVE_MS_BUDGET})`).toBeLessThan(INTERACTIVE_MS_BUDGET);

    // Keyboard: Tab to the plan's Lower Bowl and open it with Enter.
    const lowerBowl = buyer.getByRole("button", { name: /^Lower Bowl, \$85\.00, / });
    await lowerBowl.focus();
    await buyer.keyboard.press("Enter");
    await buyer.getByRole("heading", { name: `${SECTION} · $85.00` }).waitFor();
    const seat = buyer.getByRole("button", { name: `${SECTION}, row 10, seat 20, $85.00, available` });
    await seat.waitFor();
    const withSection = wire.bytes();
    const sectionRequests = wire.urls().filter((u) => u.includes("/seats"));
    console.log(`[venue plan] opening ${SECTION} (7,500 seats): ${((withSection - firstPaintBytes) / 1024).toFixed(1)} KB more; plan + section ${(withSection / 1024).toFixed(1)} KB`);
    expect(sectionRequests).toHaveLength(1);
    expect(sectionRequests[0]).toMatch(/\/seats\?section=\d+$/);
    expect(withSection, "the plan with one section open stays within the same budget").toBeLessThan(FIRST_PAINT_BYTES_BUDGET);
    expect(await lowerBowl.getAttribute("aria-pressed")).toBe("true");
    await screenshot(buyer, "venue-plan");
    await expectAccessible(buyer, "the event page with the plan and a section open");

    // Arrow keys move through the grid: from row 10 seat 20, right then down is row 11 seat 21 (the
    // next block of rows comes in), up and left are back; Enter picks.
    const focused = () => buyer.evaluate(() => document.activeElement?.getAttribute("aria-label"));
    await seat.focus();
    await buyer.keyboard.press("ArrowRight");
    await buyer.keyboard.press("ArrowDown");
    expect(await focused()).toBe(`${SECTION}, row 11, seat 21, $85.00, available`);
    await buyer.keyboard.press("ArrowUp");
    await buyer.keyboard.press("ArrowLeft");
    expect(await focused()).toBe(`${SECTION}, row 10, seat 20, $85.00, available`);
    await buyer.keyboard.press("Enter");
    await buyer.getByRole("button", { name: `${SECTION}, row 10, seat 20, $85.00, selected` }).waitFor();
    await buyer.getByRole("button", { name: "Hold 1 selected seat" }).click();
    await buyer.getByRole("heading", { name: "Checkout" }).waitFor();
    expect(await buyer.locator("tbody tr").first().innerText()).toMatch(/Lower Bowl\s+10\s+20/);
    await buyer.getByLabel("Card number").fill("4242 4242 4242 4242");
    await buyer.getByRole("button", { name: /^Pay / }).click();
    await buyer.getByRole("heading", { name: /You're going/ }).waitFor();
    // The bound the issue sets: the organiser's chart moves within 2 s of the purchase.
    await organiser.waitForFunction(
      (before) => Number(document.querySelector("svg.sales-chart")?.getAttribute("data-tickets")) === before + 1,
      ticketsBefore,
      { timeout: 2000 },
    );
    await organiser.locator("#last-orders li", { hasText: "1 ticket · $85.00 · Lower Bowl ×1" }).waitFor({ timeout: 2000 });
    await organiser.locator(`.sell-through li`, { hasText: /^Lower Bowl · \$85\.00: 1 sold, 0 held of 7,500/ }).waitFor({ timeout: 2000 });
    await screenshot(organiser, "organiser-live");
    await expectAccessible(organiser, "the organiser's live view");
    await organiser.setViewportSize({ width: 390, height: 844 });
    const overflow = await organiser.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, "the organiser's live view does not scroll sideways at phone width").toBeLessThanOrEqual(0);
    await screenshot(organiser, "organiser-live-phone");

    // The seat is sold for everyone else: a second buyer's grid shows it, and its changes arrive live.
    const watcherContext = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const watcher = await watcherContext.newPage();
    await watcher.goto(`${fixture.url}/#/events/${eventId}`);
    await watcher.getByText("● Live").waitFor();
    await watcher.getByRole("button", { name: /^Lower Bowl, \$85\.00, / }).click();
    await watcher.getByRole("button", { name: `${SECTION}, row 10, seat 20, $85.00, sold` }).waitFor();
    await screenshot(watcher, "venue-plan-phone");
    // Mark the grid: a live change must patch its buttons, not draw it again.
    await watcher.evaluate(() => ((document.querySelector(".seat-grid") as HTMLElement).dataset.marked = "yes"));
    await buyer.goto(`${fixture.url}/#/events/${eventId}`);
    await buyer.getByRole("button", { name: /^Lower Bowl, \$85\.00, / }).click();
    await buyer.getByRole("button", { name: `${SECTION}, row 1, seat 1, $85.00, available` }).click();
    await buyer.getByRole("button", { name: "Hold 1 selected seat" }).click();
    await buyer.getByRole("heading", { name: "Checkout" }).waitFor();
    await watcher.getByRole("button", { name: `${SECTION}, row 1, seat 1, $85.00, held by someone` }).waitFor({ timeout: 5000 });
    expect(await watcher.locator(".seat-grid[data-marked='yes']").count(), "the open grid was patched in place").toBe(1);
    await Promise.all([organiserContext.close(), buyerContext.close(), watcherContext.close()]);
  }, 300_000);
});
