import { describe, expect, it } from "vitest";
import { createCatalogueCache } from "../src/catalogue-cache.ts";

// The page cache alone, on a clock the test moves: what a change to one event does to the pages.
function setup(staleAfterChangeMs = 250) {
  let clock = 1_000_000;
  let loads = 0;
  const cache = createCatalogueCache({ ttlMs: 1000, staleAfterChangeMs, now: () => clock });
  const page = (key: string, title = key) =>
    cache.get(key, async () => {
      loads++;
      return { title };
    });
  return { cache, page, loads: () => loads, advance: (ms: number) => (clock += ms) };
}

/** A load the test finishes when it wants. */
function deferred() {
  let resolve!: (value: unknown) => void;
  const promise = new Promise<unknown>((r) => (resolve = r));
  return { promise, resolve };
}

describe("the catalogue cache", () => {
  it("when holds keep changing one event's availability, that page is still served from the cache, reloaded at most once per staleness window", async () => {
    const t = setup(250);
    await t.page("event:1");
    for (let ms = 0; ms < 1000; ms += 10) {
      t.cache.changed("event:1");
      await t.page("event:1");
      t.advance(10);
    }
    // One load to start, then one per 250 ms window: never one per change.
    expect(t.loads()).toBeLessThanOrEqual(6);
    expect(t.loads()).toBeGreaterThanOrEqual(4);
  });

  it("when availability changes, the page is served at most the staleness window longer, then loaded again", async () => {
    const t = setup(250);
    await t.page("event:1");
    t.cache.changed("event:1");
    t.advance(249);
    expect(t.cache.peek("event:1")).toBeDefined();
    t.advance(1);
    expect(t.cache.peek("event:1")).toBeUndefined();
    await t.page("event:1");
    expect(t.loads()).toBe(2);
  });

  it("when one event changes while another event's page is loading, the other page is still cached", async () => {
    const t = setup(0);
    const slow = deferred();
    const loading = t.cache.get("event:2", () => slow.promise);
    t.cache.invalidate("event:1");
    t.cache.changed("event:1");
    slow.resolve({ title: "two" });
    await loading;
    expect(t.cache.peek("event:2")?.body.toString()).toBe('{"title":"two"}');
  });

  it("when the event itself changes while its page is loading, what the load read is not stored", async () => {
    const t = setup();
    const slow = deferred();
    const loading = t.cache.get("event:1", () => slow.promise);
    t.cache.invalidate("event:1");
    slow.resolve({ title: "old title" });
    expect((await loading).body.toString()).toBe('{"title":"old title"}');
    expect(t.cache.peek("event:1")).toBeUndefined();
  });

  it("when availability changes while a page is loading, the load is stored for the staleness window only", async () => {
    const t = setup(250);
    const slow = deferred();
    const loading = t.cache.get("event:1", () => slow.promise);
    t.cache.changed("event:1");
    t.advance(100);
    slow.resolve({ title: "read before the hold" });
    await loading;
    expect(t.cache.peek("event:1")).toBeDefined();
    t.advance(150);
    expect(t.cache.peek("event:1")).toBeUndefined();
  });

  it("when an invalidated key is loaded again while the first load still runs, the first load does not end the second", async () => {
    const t = setup();
    const first = deferred();
    const firstLoading = t.cache.get("event:1", () => first.promise);
    t.cache.invalidate("event:1");
    const second = deferred();
    const secondLoading = t.cache.get("event:1", () => second.promise);
    first.resolve({ title: "first" });
    await firstLoading;
    // A third reader joins the second load instead of starting another one.
    let thirdLoaded = false;
    const third = t.cache.get("event:1", async () => {
      thirdLoaded = true;
      return { title: "third" };
    });
    second.resolve({ title: "second" });
    expect((await secondLoading).body.toString()).toBe('{"title":"second"}');
    expect((await third).body.toString()).toBe('{"title":"second"}');
    expect(thirdLoaded).toBe(false);
    expect(t.cache.peek("event:1")?.body.toString()).toBe('{"title":"second"}');
  });
});
