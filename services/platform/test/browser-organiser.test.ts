// End to end in real Chromium: accounts, and an organiser putting an event on sale and watching it sell.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { DEMO_BUYER, DEMO_ORGANIZER } from "../src/demo-data.ts";
import { expectAccessible } from "./accessibility.ts";
import { launchChromium, requireChromium } from "./chromium.ts";
import { startPlatformFixture, type PlatformFixture } from "./platform-fixture.ts";
import { screenshot } from "./screenshots.ts";

const chromiumProbe = requireChromium();
let fixture: PlatformFixture;
let browser: Browser;

async function buyOneSeat(base: string, eventId: string): Promise<void> {
  const session = await fetch(`${base}/api/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(DEMO_BUYER) });
  const cookie = (session.headers.get("set-cookie") ?? "").split(";")[0];
  const hold = await fetch(`${base}/api/events/${eventId}/holds`, { method: "POST", headers: { "content-type": "application/json", cookie }, body: JSON.stringify({ quantity: 1 }) });
  expect(hold.status).toBe(201);
  const { hold: { id } } = (await hold.json()) as { hold: { id: string } };
  const order = await fetch(`${base}/api/orders`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie, "idempotency-key": `organiser-e2e-${id}` },
    body: JSON.stringify({ holdId: id, payment: { cardNumber: "4242424242424242", expMonth: 12, expYear: 2030, cvc: "123" } }),
  });
  expect(order.status).toBe(201);
}

describe.skipIf(!chromiumProbe.available)("accounts and organising in a browser", () => {
  beforeAll(async () => {
    [fixture, browser] = await Promise.all([startPlatformFixture({ events: [] }), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await fixture?.close();
  });

  it("when a visitor signs up, they are signed in as a buyer; signing out shows the sign-in link again", async () => {
    const page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
    await page.goto(`${fixture.url}/#/signup`);
    await page.getByLabel("Your name").fill("Nina Newcomer");
    await page.getByLabel("Email").fill("nina@example.test");
    await page.getByLabel("Password").fill("nina-password");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByRole("heading", { name: "Events on sale" }).waitFor();
    await page.getByText("Nina Newcomer").waitFor();
    expect(await page.getByRole("link", { name: "Create event" }).count()).toBe(0);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("link", { name: "Sign in" }).waitFor();
    const me = await page.evaluate(async () => (await fetch("/api/me")).status);
    expect(me).toBe(401);
    await page.context().close();
  });

  it("when an organiser creates an event with two sections, it goes on sale and the sales dashboard counts a purchase live", async () => {
    const page = await (await browser.newContext({ viewport: { width: 1200, height: 900 } })).newPage();
    await page.goto(`${fixture.url}/#/signin?next=%2Forganiser`);
    await page.getByLabel("Email").fill(DEMO_ORGANIZER.email);
    await page.getByLabel("Password").fill(DEMO_ORGANIZER.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Create an event" }).waitFor();
    await page.getByLabel("Title").fill("Organiser's Gala");
    await page.getByLabel("Venue").fill("Grand Hall");
    await screenshot(page, "organiser-create");
    await expectAccessible(page, "the organiser's event form");
    await page.getByRole("button", { name: "Create event and put it on sale" }).click();
    await page.getByRole("heading", { name: "Sales: Organiser's Gala" }).waitFor();
    await page.getByText("● Live").waitFor();
    const eventId = /organiser\/events\/(\d+)/.exec(page.url())?.[1] as string;
    // Inventory creates the seats from the firehose a moment after creation.
    await fixture.eventId("Organiser's Gala");
    await buyOneSeat(fixture.url, eventId);
    await page.locator(".sell-through li", { hasText: /: 1 sold, 0 held of (200|80) / }).waitFor({ timeout: 10_000 });
    await page.locator("[data-stat='sold']", { hasText: /^1$/ }).waitFor({ timeout: 10_000 });
    await screenshot(page, "organiser-sales");
    await expectAccessible(page, "the organiser's live view");
    await page.context().close();
  });
});
