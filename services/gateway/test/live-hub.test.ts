// The live hub on a bus in trouble: a failed group join is the watcher's error, never an unhandled
// rejection that would take a gateway down, and it is not remembered once the bus is back.
import { BusUnavailableError, createChannelLayer, createInMemoryChannelLayer, type ChannelLayer } from "@boxoffice/bus";
import { eventLiveGroup } from "@boxoffice/contracts";
import { waitFor } from "@boxoffice/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLiveHub } from "../src/live-hub.ts";

const unhandled: unknown[] = [];
const record = (reason: unknown) => unhandled.push(reason);
beforeEach(() => {
  unhandled.length = 0;
  process.on("unhandledRejection", record);
});
afterEach(() => {
  process.off("unhandledRejection", record);
});

/** A few turns of the event loop, so a rejection nobody handles would have been reported. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 20));
}

describe("live hub when the bus is down", () => {
  it("when Redis refuses connections, watching an event fails with the bus error and nothing is left unhandled", async () => {
    // Nothing listens on port 1: every command fails as BusUnavailable.
    const layer = createChannelLayer("redis://127.0.0.1:1", { prefix: "live-hub-down" });
    const hub = createLiveHub({ layer, logger: { warn: () => {} } });
    await expect(hub.watch("100", () => {})).rejects.toThrow();
    await settle();
    expect(unhandled).toEqual([]);
    await hub.close();
    await layer.close().catch(() => {});
  });

  it("when the group join failed once, the next watch after the bus is back receives availability", async () => {
    const memory = createInMemoryChannelLayer();
    let down = true;
    const layer: ChannelLayer = Object.assign(Object.create(memory) as ChannelLayer, {
      groupAdd: (group: string, channel: string) => (down ? Promise.reject(new BusUnavailableError("bus down (test)")) : memory.groupAdd(group, channel)),
    });
    const hub = createLiveHub({ layer, logger: { warn: () => {} } });
    await expect(hub.watch("100", () => {})).rejects.toBeInstanceOf(BusUnavailableError);
    down = false;
    const seen: unknown[] = [];
    const stop = await hub.watch("100", (m) => seen.push(m));
    const message = { type: "availability", eventId: "100", available: 3, sections: [{ id: "101", available: 3 }] };
    await memory.groupSend(eventLiveGroup("100"), message);
    await waitFor(() => seen.length === 1, { what: "the availability message after recovery" });
    expect(seen).toEqual([message]);
    await stop();
    await settle();
    expect(unhandled).toEqual([]);
    await hub.close();
    await memory.close();
  });
});
