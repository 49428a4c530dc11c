// The operator console on the running embedded platform (`npm start`): the demo operator signs in
// and sees every service and the gateway reporting, the services' RPC methods and request
// channels, and their shards (the embedded PGlite databases) reachable.
import { waitFor } from "@boxoffice/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_OPERATOR } from "../src/demo-data.ts";
import { launchChromium, requireChromium } from "./chromium.ts";
import { smallEvent, startPlatformFixture, type PlatformFixture } from "./platform-fixture.ts";
import { expectAccessible } from "./accessibility.ts";
import { screenshot } from "./screenshots.ts";

const chromiumProbe = requireChromium();

let fixture: PlatformFixture;
beforeAll(async () => {
  fixture = await startPlatformFixture({ events: [smallEvent("Console Concert", 12)] });
}, 120_000);
afterAll(async () => {
  await fixture?.close();
});

async function signIn(email: string, password: string): Promise<string> {
  const response = await fetch(`${fixture.url}/api/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password }) });
  expect(response.status, await response.clone().text()).toBe(200);
  return response.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
}

describe("the operator console on the embedded platform", () => {
  it("when the demo operator asks for the overview, every service and the gateway are live, with methods, request channels and reachable shards", async () => {
    await fixture.eventId("Console Concert"); // the catalogue and inventory have answered calls by now
    const cookie = await signIn(DEMO_OPERATOR.email, DEMO_OPERATOR.password);
    const services = ["events", "gateway", "inventory", "payments", "users"];
    const overview = await waitFor(async () => {
      const response = await fetch(`${fixture.url}/api/ops/overview`, { headers: { cookie } });
      expect(response.status).toBe(200);
      const { overview: o } = (await response.json()) as { overview: { instances: Array<{ service: string; gone: boolean }>; methods: Array<{ method: string }>; channels: Array<{ name: string }>; shards: Array<{ service: string; reachable: boolean }> } };
      const live = new Set(o.instances.filter((i) => !i.gone).map((i) => i.service));
      return services.every((s) => live.has(s)) && o.shards.length >= 4 && o.methods.some((m) => m.method.startsWith("events.")) ? o : undefined;
    }, { what: "every service reporting with its shards, and the catalogue's calls", timeoutMs: 20_000, intervalMs: 250 });

    expect(overview.channels.map((c) => c.name).sort()).toEqual(["events.rpc", "inventory.rpc", "payments.rpc", "users.rpc"]);
    expect(new Set(overview.shards.map((s) => s.service))).toEqual(new Set(["events", "inventory", "payments", "users"]));
    expect(overview.shards.every((s) => s.reachable)).toBe(true);
  });

  it("when a buyer asks for the overview, it is 403 FORBIDDEN", async () => {
    const email = `console-buyer-${Date.now()}@example.test`;
    await fetch(`${fixture.url}/api/users`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password: "long-enough", displayName: "B" }) });
    const cookie = await signIn(email, "long-enough");
    const response = await fetch(`${fixture.url}/api/ops/overview`, { headers: { cookie } });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: { code: "FORBIDDEN" } });
  });
});

describe.skipIf(!chromiumProbe.available)("the operator console in a browser", () => {
  it("when the operator opens #/ops at phone and desktop width, every service is a box with a live instance and reachable shards, updating by itself", async () => {
    const browser = await launchChromium();
    try {
      for (const [width, height, name] of [[390, 844, "ops-console-phone"], [1200, 900, "ops-console"]] as const) {
        const page = await (await browser.newContext({ viewport: { width, height } })).newPage();
        await page.goto(`${fixture.url}/#/signin?next=%2Fops`);
        await page.getByLabel("Email").fill(DEMO_OPERATOR.email);
        await page.getByLabel("Password").fill(DEMO_OPERATOR.password);
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.getByRole("heading", { name: "Operator console" }).waitFor();
        for (const service of ["gateway", "users", "events", "inventory", "payments"]) {
          await page.locator(`[data-service="${service}"] .ops-live`).first().waitFor({ timeout: 20_000 });
        }
        await page.locator('[data-service="inventory"] .ops-shard').first().waitFor();
        expect(await page.locator(".ops-unreachable").count()).toBe(0);
        // It refreshes by itself: the "Updated" line changes without a reload.
        const first = await page.getByText(/^Updated /).textContent();
        await waitFor(async () => ((await page.getByText(/^Updated /).textContent()) !== first ? true : undefined), { what: "the console to refresh", timeoutMs: 10_000, intervalMs: 250 });
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        expect(overflow, "no sideways scrolling").toBeLessThanOrEqual(0);
        await screenshot(page, name);
        await expectAccessible(page, `the operator console (${name})`);
        await page.context().close();
      }
    } finally {
      await browser.close();
    }
  }, 90_000);
});
