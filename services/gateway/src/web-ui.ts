// Serves the browser UI. Its sources live in ../web and Vite builds them into ../web-dist; the
// gateway builds on start when the output is missing or older than the sources (a fresh clone
// needs no extra step), into a temporary folder renamed into place so parallel starts never see
// half a build. Where Vite is absent (a production image without dev dependencies) the shipped
// build is served as is.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import type * as Vite from "vite";

export const WEB_SOURCE_DIR = join(import.meta.dirname, "..", "web");
export const WEB_DIST_DIR = join(import.meta.dirname, "..", "web-dist");
const STAMP_FILE = ".source-hash";

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(path) : [path];
  });
}

/** Hash of the UI sources (and the contracts the UI shares): the build is current when it matches. */
export function webSourceHash(): string {
  const hash = createHash("sha256");
  for (const file of sourceFiles(WEB_SOURCE_DIR).sort()) {
    hash.update(relative(WEB_SOURCE_DIR, file));
    hash.update(readFileSync(file));
  }
  return hash.digest("hex");
}

export function isWebUiCurrent(): boolean {
  const stamp = join(WEB_DIST_DIR, STAMP_FILE);
  return existsSync(stamp) && readFileSync(stamp, "utf8") === webSourceHash();
}

/** Builds the UI unless the output is current; returns the folder to serve. */
export async function ensureWebUiBuilt(logger?: Pick<FastifyBaseLogger, "info" | "warn">): Promise<string> {
  if (isWebUiCurrent()) return WEB_DIST_DIR;
  let vite: typeof Vite;
  try {
    vite = await import("vite");
  } catch {
    if (existsSync(join(WEB_DIST_DIR, "index.html"))) {
      logger?.warn("vite is not installed: serving the web UI build as it is");
      return WEB_DIST_DIR;
    }
    throw new Error("the web UI is not built and vite is not installed (install dev dependencies)");
  }
  const started = Date.now();
  const hash = webSourceHash();
  const temporary = `${WEB_DIST_DIR}.tmp-${process.pid}-${Date.now()}`;
  await vite.build({
    root: WEB_SOURCE_DIR,
    configFile: false,
    logLevel: "warn",
    base: "/",
    build: { outDir: temporary, emptyOutDir: true, target: "es2022", sourcemap: false, reportCompressedSize: false },
  });
  writeFileSync(join(temporary, STAMP_FILE), hash);
  rmSync(WEB_DIST_DIR, { recursive: true, force: true });
  try {
    renameSync(temporary, WEB_DIST_DIR);
  } catch (error) {
    // Another process won the race with the same sources; its build is as good as ours.
    rmSync(temporary, { recursive: true, force: true });
    if (!isWebUiCurrent()) throw error;
  }
  logger?.info({ ms: Date.now() - started }, "built the web UI");
  return WEB_DIST_DIR;
}

export async function registerWebUi(app: FastifyInstance, logger?: Pick<FastifyBaseLogger, "info" | "warn">): Promise<void> {
  const root = await ensureWebUiBuilt(logger);
  if (!statSync(root).isDirectory()) throw new Error(`web UI folder ${root} is missing`);
  await app.register(fastifyStatic, {
    root,
    prefix: "/",
    index: ["index.html"],
    // Hashed asset names change with their content: cache them for long; index.html never.
    setHeaders(reply, path) {
      reply.header("cache-control", path.includes(`${join("assets", "")}`) ? "public, max-age=31536000, immutable" : "no-cache");
    },
  });
}
