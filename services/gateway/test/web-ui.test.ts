import { join } from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestGateway, type TestGateway } from "./helpers.ts";

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
