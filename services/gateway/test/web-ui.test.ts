import { join } from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatBundleSizes, readBundleSizes } from "../src/web-ui.ts";
import { createTestGateway, type TestGateway } from "./helpers.ts";

/** The UI's budget, JS+CSS gzipped (figures in BENCHMARKS.md): generous over today's sizes, a limit on drift. */
const BUDGET = { firstPageBytes: 20 * 1024, perPageBytes: 16 * 1024, totalBytes: 64 * 1024 };
const PAGES = ["account", "checkout", "event-page", "events-list", "ops", "organiser", "queue", "tickets"];

let t: TestGateway;
beforeAll(async () => {
  t = await createTestGateway({ SERVE_WEB: "true" });
});
afterAll(async () => {
  await t.close();
});

describe("the browser UI", () => {
  it("when the gateway starts, the UI is built if needed and served at / with its assets", async () => {
    const page = await t.gateway.app.inject({ method: "GET", url: "/" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toContain("text/html");
    expect(page.body).toContain("<title>boxoffice</title>");
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(page.body)?.[1];
    expect(script, "index.html references a built script").toBeDefined();
    const asset = await t.gateway.app.inject({ method: "GET", url: script as string });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers["cache-control"]).toContain("immutable");
  });

  it("when an API path is unknown, the answer stays a JSON 404 rather than the UI", async () => {
    const response = await t.gateway.app.inject({ method: "GET", url: "/api/unknown" });
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe("NOT_FOUND");
  });
});

describe("the browser UI's bundle budget", () => {
  it("when built, the first page, each page's own code and the whole UI stay within the gzipped budget, and no page loads another page's code", () => {
    const sizes = readBundleSizes();
    console.log(formatBundleSizes(sizes));
    expect(sizes.firstPage.gzipBytes, "first page (entry + CSS), gzipped bytes").toBeLessThanOrEqual(BUDGET.firstPageBytes);
    expect(sizes.total.gzipBytes, "every JS and CSS file, gzipped bytes").toBeLessThanOrEqual(BUDGET.totalBytes);
    expect(Object.keys(sizes.pages).sort(), "each view is its own chunk, imported when its route opens").toEqual(PAGES);
    const ownChunk = (page: string) => new RegExp(`^assets/${page}-[^/]+\\.js$`);
    for (const page of PAGES) {
      expect(sizes.firstPage.files.some((f) => ownChunk(page).test(f)), `the first page does not load ${page}`).toBe(false);
      expect(sizes.pages[page].gzipBytes, `${page}'s own code, gzipped bytes`).toBeLessThanOrEqual(BUDGET.perPageBytes);
      for (const other of PAGES.filter((p) => p !== page)) {
        expect(sizes.pages[page].files.some((f) => ownChunk(other).test(f)), `${page} does not load ${other}`).toBe(false);
      }
    }
  });

  it("when the browser accepts gzip, a script is served from its pre-compressed copy", async () => {
    const page = await t.gateway.app.inject({ method: "GET", url: "/" });
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(page.body)?.[1] as string;
    const plain = await t.gateway.app.inject({ method: "GET", url: script });
    const zipped = await t.gateway.app.inject({ method: "GET", url: script, headers: { "accept-encoding": "gzip" } });
    expect(zipped.headers["content-encoding"]).toBe("gzip");
    expect(zipped.rawPayload.length).toBeLessThan(plain.rawPayload.length / 2);
  });
});

describe("the browser UI sources", () => {
  it("type-check with the DOM library (the root typecheck leaves them out: they are not Node code)", () => {
    const configFile = join(import.meta.dirname, "..", "web", "tsconfig.json");
    const { config } = ts.readConfigFile(configFile, ts.sys.readFile);
    const parsed = ts.parseJsonConfigFileContent(config, ts.sys, join(import.meta.dirname, "..", "web"));
    const program = ts.createProgram(parsed.fileNames, parsed.options);
    const problems = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    expect(problems).toEqual([]);
  });
});
