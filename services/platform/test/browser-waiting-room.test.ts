// End to end in real Chromium: an on-sale that opens later, through the waiting room's pages.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { DEMO_ORGANIZER } from "../src/demo-data.ts";
import { launchChromium, requireChromium } from "./chromium.ts";
import { startPlatformFixture, type PlatformFixture } from "./platform-fixture.ts";
import { expectAccessible } from "./accessibility.ts";
import { screenshot } from "./screenshots.ts";

const chromiumProbe = requireChromium();
let fixture: PlatformFixture;
let browser: Browser;

async function api(path: string, options: { method?: string; cookie?: string; body?: unknown } = {}): Promise<{ status: number; json: unknown; cookie: string }> {
  const response = await fetch(`${fixture.url}${path}`, {
    method: options.method ?? "GET",
    headers: { ...(options.body === undefined ? {} : { "content-type": "application/json" }), ...(options.cookie ? { cookie: options.cookie } : {}) },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null, cookie: (response.headers.get("set-cookie") ?? "").split(";")[0] };
}

async function buyerPage(email: string): Promise<Page> {
  expect((await api("/api/users", { method: "POST", body: { email, password: "queue-password", displayName: email.split("@")[0] } })).status).toBe(201);
  const page = await (await browser.newContext({ viewport: { width: 1000, height: 800 } })).newPage();
  await page.goto(`${fixture.url}/#/signin`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("queue-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Events on sale" }).waitFor();
  return page;
}

describe.skipIf(!chromiumProbe.available)("the waiting room in a browser", () => {
  beforeAll(async () => {
    [fixture, browser] = await Promise.all([startPlatformFixture({ events: [] }), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await fixture?.close();
  });

  it("when two buyers wait in the pre-queue and the sale opens, they are admitted in turn: the first buys, then the second's page moves on by itself", async () => {
    const organiser = (await api("/api/session", { method: "POST", body: DEMO_ORGANIZER })).cookie;
    const created = await api("/api/events", {
      method: "POST",
      cookie: organiser,
      body: {
        title: "Opening Night Queue",
        venue: "Harbour Hall",
        startsAt: new Date(Date.now() + 5 * 86_400_000).toISOString(),
        // Long enough for both buyers to sign in and line up first; the test waits, never sleeps.
        salesStartAt: new Date(Date.now() + 20_000).toISOString(),
        sections: [{ name: "Stalls", rows: 2, seatsPerRow: 12, priceCents: 2500 }],
      },
    });
    expect(created.status).toBe(201);
    const eventId = (created.json as { event: { id: string } }).event.id;
    // One buyer at a time, so "in turn" is visible.
    expect((await api(`/api/events/${eventId}/queue`, { method: "PATCH", cookie: organiser, body: { maxAdmitted: 1 } })).status).toBe(200);

    const [ann, bob] = [await buyerPage("ann@queue.test"), await buyerPage("bob@queue.test")];
    for (const page of [ann, bob]) {
      await page.goto(`${fixture.url}/#/events/${eventId}`);
      await page.getByRole("link", { name: "Join the waiting room" }).click();
      await page.locator("#queue-status", { hasText: /The sale opens in/ }).waitFor();
    }
    await screenshot(ann, "waiting-room-pre-queue");
    await expectAccessible(ann, "the waiting room (pre-queue)");

    // At the opening one of them is admitted and taken to seat selection; the other is next in line.
    const firstIn = await Promise.any([ann, bob].map(async (page) => {
      await page.getByRole("button", { name: "Hold best available" }).waitFor({ timeout: 60_000 });
      return page;
    }));
    const second = firstIn === ann ? bob : ann;
    await second.locator("#queue-status", { hasText: "You are next in line." }).waitFor({ timeout: 30_000 });
    await screenshot(second, "waiting-room-next");
    await expectAccessible(second, "the waiting room (next in line)");
    await firstIn.locator("#room-line", { hasText: /It's your turn: hold and pay within/ }).waitFor();

    await firstIn.getByLabel("Number of tickets").selectOption("2");
    await firstIn.getByRole("button", { name: "Hold best available" }).click();
    await firstIn.getByRole("heading", { name: "Checkout" }).waitFor();
    await firstIn.getByLabel("Card number").fill("4242 4242 4242 4242");
    await firstIn.getByRole("button", { name: /^Pay / }).click();
    await firstIn.getByRole("heading", { name: /You're going/ }).waitFor();

    // The confirmed order ends the first admission; the second buyer's page moves on without a click.
    await second.getByRole("button", { name: "Hold best available" }).waitFor({ timeout: 30_000 });
    await second.locator("#room-line", { hasText: /It's your turn/ }).waitFor();

    const organiserPage = await (await browser.newContext({ viewport: { width: 1000, height: 800 } })).newPage();
    await organiserPage.goto(`${fixture.url}/#/signin`);
    await organiserPage.getByLabel("Email").fill(DEMO_ORGANIZER.email);
    await organiserPage.getByLabel("Password").fill(DEMO_ORGANIZER.password);
    await organiserPage.getByRole("button", { name: "Sign in" }).click();
    await organiserPage.getByRole("heading", { name: "Events on sale" }).waitFor();
    await organiserPage.goto(`${fixture.url}/#/organiser/events/${eventId}`);
    await organiserPage.locator("[data-stat='admitted']", { hasText: "1" }).waitFor();
    await organiserPage.locator("[data-stat='admittedPerMinute']", { hasText: "2" }).waitFor();
    await organiserPage.getByRole("button", { name: "Pause admissions" }).click();
    await organiserPage.locator("[data-stat='paused']", { hasText: "paused" }).waitFor();
    await screenshot(organiserPage, "organiser-waiting-room");
    await expectAccessible(organiserPage, "the organiser's live view with the waiting room");
    for (const page of [ann, bob, organiserPage]) await page.context().close();
  });
});
