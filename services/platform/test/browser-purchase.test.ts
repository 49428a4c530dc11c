// End to end in real Chromium against the embedded platform: the buyer's journeys of the UI.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { DEMO_BUYER } from "../src/demo-data.ts";
import { expectAccessible } from "./accessibility.ts";
import { launchChromium, requireChromium } from "./chromium.ts";
import { smallEvent, startPlatformFixture, type PlatformFixture } from "./platform-fixture.ts";
import { screenshot } from "./screenshots.ts";

const chromiumProbe = requireChromium();
const HOLD_TTL_SECONDS = 12;

const EVENTS = {
  purchase: "Midsummer Jazz Night",
  live: "Comedy Cellar Live",
  declined: "Chamber Orchestra Matinee",
  expiry: "Folk Songs by Candlelight",
};

let fixture: PlatformFixture;
let browser: Browser;

async function signedInPage(viewport = { width: 1200, height: 860 }): Promise<Page> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  await page.goto(`${fixture.url}/#/signin`);
  await page.getByLabel("Email").fill(DEMO_BUYER.email);
  await page.getByLabel("Password").fill(DEMO_BUYER.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Events on sale" }).waitFor();
  return page;
}

async function openEvent(page: Page, title: string): Promise<void> {
  const id = await fixture.eventId(title);
  await page.goto(`${fixture.url}/#/events/${id}`);
  await page.getByRole("heading", { name: title }).waitFor();
  await page.getByText("● Live").waitFor();
}

async function holdBestAvailable(page: Page, quantity: number): Promise<void> {
  await page.getByLabel("Number of tickets").selectOption(String(quantity));
  await page.getByRole("button", { name: "Hold best available" }).click();
  await page.getByRole("heading", { name: "Checkout" }).waitFor();
}

async function pay(page: Page, cardNumber: string): Promise<void> {
  await page.getByLabel("Card number").fill(cardNumber);
  await page.getByRole("button", { name: /^Pay / }).click();
}

describe.skipIf(!chromiumProbe.available)("buying tickets in a browser", () => {
  beforeAll(async () => {
    [fixture, browser] = await Promise.all([
      startPlatformFixture({ holdTtlSeconds: HOLD_TTL_SECONDS, events: Object.values(EVENTS).map((title) => smallEvent(title)) }),
      launchChromium(),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await fixture?.close();
  });

  it("when a buyer signs in, holds two seats and pays with the test card, the confirmation shows two tickets with QR codes", async () => {
    const page = await signedInPage();
    await screenshot(page, "events");
    await expectAccessible(page, "the event list");
    await openEvent(page, EVENTS.purchase);
    await page.getByRole("button", { name: "Stalls, row 1, seat 1, $25.00, available" }).waitFor();
    await screenshot(page, "event-page");
    await holdBestAvailable(page, 2);
    await page.locator("#hold-countdown", { hasText: /^\d+:\d\d$/ }).waitFor();
    await screenshot(page, "checkout");
    await expectAccessible(page, "the checkout");
    await pay(page, "4242 4242 4242 4242");
    await page.getByRole("heading", { name: /You're going/ }).waitFor();
    await page.locator(".ticket img[src^='data:image/png']").nth(1).waitFor();
    expect(await page.locator(".ticket").count()).toBe(2);
    await screenshot(page, "confirmation");
    await expectAccessible(page, "the order confirmation");
    await page.getByRole("link", { name: "My tickets", exact: true }).click();
    await page.getByRole("heading", { name: "My tickets" }).waitFor();
    expect(await page.locator(".ticket").count()).toBeGreaterThanOrEqual(2);
    await expectAccessible(page, "my tickets");
    await page.context().close();
  });

  it("when two browsers watch one event and one buys, the other's availability drops within 2 s", async () => {
    const watcherContext = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const watcher = await watcherContext.newPage();
    const id = await fixture.eventId(EVENTS.live);
    await watcher.goto(`${fixture.url}/#/events/${id}`);
    await watcher.getByText("● Live").waitFor();
    await watcher.locator("#event-available", { hasText: /^24 of 24 seats available$/ }).waitFor();
    await screenshot(watcher, "event-page-phone");

    const buyer = await signedInPage();
    await openEvent(buyer, EVENTS.live);
    await holdBestAvailable(buyer, 1);
    await pay(buyer, "4242424242424242");
    await buyer.getByRole("heading", { name: /You're going/ }).waitFor();
    // The bound the issue sets for live updates; the watcher never reloads or refocuses.
    await watcher.locator("#event-available", { hasText: /^23 of 24 seats available$/ }).waitFor({ timeout: 2000 });
    await buyer.context().close();
    await watcherContext.close();
  });

  it("when the buyer picks a seat on the map and the card is declined, the buyer sees why, keeps the seat, and a second card succeeds", async () => {
    const page = await signedInPage();
    await openEvent(page, EVENTS.declined);
    await page.getByRole("button", { name: "Stalls, row 2, seat 5, $25.00, available" }).click();
    await page.getByRole("button", { name: "Hold 1 selected seat" }).click();
    await page.getByRole("heading", { name: "Checkout" }).waitFor();
    expect(await page.locator("tbody tr").first().innerText()).toMatch(/Stalls\s+2\s+5/);
    await pay(page, "4000 0000 0000 0002");
    await page.locator("#notice", { hasText: "declined" }).waitFor();
    await screenshot(page, "checkout-declined");
    expect(await page.getByRole("heading", { name: "Checkout" }).isVisible()).toBe(true);
    await pay(page, "4242 4242 4242 4242");
    await page.getByRole("heading", { name: /You're going/ }).waitFor();
    await page.locator(".ticket").first().waitFor();
    expect(await page.locator(".ticket").count()).toBe(1);
    await page.context().close();
  });

  it("when the hold runs out before paying, the buyer is told it expired and cannot pay", async () => {
    const page = await signedInPage();
    await openEvent(page, EVENTS.expiry);
    await holdBestAvailable(page, 1);
    await page.locator("#notice", { hasText: "expired" }).waitFor({ timeout: (HOLD_TTL_SECONDS + 10) * 1000 });
    expect(await page.getByRole("button", { name: /^Pay / }).isDisabled()).toBe(true);
    await screenshot(page, "hold-expired");
    await page.context().close();
  });
});
