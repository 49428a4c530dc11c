// The one-command platform: everything in one process, data kept across restarts.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadPlatformConfig } from "../src/config.ts";
import { DEMO_BUYER } from "../src/demo-data.ts";
import { startEmbeddedPlatform } from "../src/embedded.ts";
import { smallEvent } from "./platform-fixture.ts";

const dataDir = mkdtempSync(join(tmpdir(), "boxoffice-platform-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function start(argv: string[] = []) {
  const config = loadPlatformConfig({ PORT: "0", DATA_DIR: dataDir, LOG_LEVEL: "error" }, argv);
  return startEmbeddedPlatform(config, { env: {}, demoEvents: [smallEvent("Restart Recital", 12)] });
}

describe("the embedded platform", () => {
  it("when it restarts on the same data, the demo data is not duplicated, every service is ready, and a session survives", async () => {
    const first = await start(["--fresh"]);
    let cookie: string;
    try {
      expect(first.seeded).toEqual(["Restart Recital"]);
      const signIn = await fetch(`${first.url}/api/session`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: DEMO_BUYER.email, password: DEMO_BUYER.password }),
      });
      expect(signIn.status).toBe(200);
      cookie = (signIn.headers.get("set-cookie") ?? "").split(";")[0];
    } finally {
      await first.stop();
    }

    const second = await start();
    try {
      expect(second.seeded).toEqual([]);
      const ready = await fetch(`${second.url}/readyz`);
      expect(ready.status).toBe(200);
      expect((await ready.json()).services).toEqual({ users: true, events: true, inventory: true, payments: true });
      const events = (await (await fetch(`${second.url}/api/events`)).json()) as { events: Array<{ title: string }> };
      expect(events.events.filter((e) => e.title === "Restart Recital")).toHaveLength(1);
      // Session keys live under DATA_DIR, so a cookie from before the restart still signs in.
      const me = await fetch(`${second.url}/api/me`, { headers: { cookie } });
      expect(me.status).toBe(200);
      expect((await me.json()).user.email).toBe(DEMO_BUYER.email);
    } finally {
      await second.stop();
    }
  });
});
