// Serves the browser UI. Its sources live in ../web and Vite builds them into ../web-dist; the
// gateway builds on start when the output is missing or older than the sources (a fresh clone
// needs no extra step), into a temporary folder renamed into place so parallel starts never see
// half a build. Where Vite is absent (a production image without dev dependencies) the shipped
// build is served as is.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join, relative } from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import type * as Vite from "vite";

export const WEB_SOURCE_DIR = join(import.meta.dirname, "..", "web");
export const WEB_DIST_DIR = join(import.meta.dirname, "..", "web-dist");
const STAMP_FILE = ".source-hash";
/** Written beside the build: what each page costs, gzipped (the bundle budget's test reads it). */
export const BUNDLE_SIZES_FILE = "bundle-sizes.json";

export interface AssetSize { file: string; bytes: number; gzipBytes: number }
export interface BundleSizes {
  /** Every JS and CSS file of the build. */
  assets: AssetSize[];
  /** What index.html loads before any page's own code (the entry, its static imports and CSS). */
  firstPage: { files: string[]; gzipBytes: number };
  /** Per page module (web/src/views/*): the code loaded when the router opens it, beyond firstPage. */
  pages: Record<string, { files: string[]; gzipBytes: number }>;
  total: { bytes: number; gzipBytes: number };
}

interface ManifestChunk { file: string; isEntry?: boolean; isDynamicEntry?: boolean; imports?: string[]; dynamicImports?: string[]; css?: string[]; src?: string }

/**
 * Writes a .gz beside each JS and CSS file (served as is when the browser accepts gzip) and
 * measures what each page loads, from Vite's manifest.
 */
export function compressAssets(dir: string): BundleSizes {
  const manifest = JSON.parse(readFileSync(join(dir, ".vite", "manifest.json"), "utf8")) as Record<string, ManifestChunk>;
  const assets: AssetSize[] = [];
  for (const file of sourceFiles(join(dir, "assets")).filter((f) => /\.(js|css)$/.test(f)).sort()) {
    const content = readFileSync(file);
    const zipped = gzipSync(content, { level: 9 });
    writeFileSync(`${file}.gz`, zipped);
    assets.push({ file: relative(dir, file), bytes: content.length, gzipBytes: zipped.length });
  }
  const sizeOf = new Map(assets.map((a) => [a.file, a.gzipBytes]));
  // A chunk and everything it imports statically: what the browser fetches to run it.
  const closure = (key: string, into = new Set<string>()): Set<string> => {
    const chunk = manifest[key];
    if (!chunk) return into;
    into.add(chunk.file);
    for (const css of chunk.css ?? []) into.add(css);
    for (const imported of chunk.imports ?? []) if (!into.has(manifest[imported]?.file)) closure(imported, into);
    return into;
  };
  const entry = Object.keys(manifest).find((key) => manifest[key].isEntry) as string;
  const first = closure(entry);
  const sum = (files: Iterable<string>) => [...files].reduce((total, f) => total + (sizeOf.get(f) ?? 0), 0);
  const pages: BundleSizes["pages"] = {};
  for (const [key, chunk] of Object.entries(manifest)) {
    if (!chunk.isDynamicEntry) continue;
    const files = [...closure(key)].filter((f) => !first.has(f));
    pages[(chunk.src ?? key).replace(/^.*\//, "").replace(/\.ts$/, "")] = { files, gzipBytes: sum(files) };
  }
  return {
    assets,
    firstPage: { files: [...first], gzipBytes: sum(first) },
    pages,
    total: { bytes: assets.reduce((t, a) => t + a.bytes, 0), gzipBytes: assets.reduce((t, a) => t + a.gzipBytes, 0) },
  };
}

/** The sizes of the current build (build it first). */
export function readBundleSizes(dir = WEB_DIST_DIR): BundleSizes {
  return JSON.parse(readFileSync(join(dir, BUNDLE_SIZES_FILE), "utf8")) as BundleSizes;
}

/** The sizes as the lines a build prints. */
export function formatBundleSizes(sizes: BundleSizes): string {
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  return [
    `web UI, gzipped: first page ${kb(sizes.firstPage.gzipBytes)} (${sizes.firstPage.files.join(", ")}), all JS+CSS ${kb(sizes.total.gzipBytes)} (${kb(sizes.total.bytes)} raw)`,
    ...Object.entries(sizes.pages).sort().map(([page, { gzipBytes, files }]) => `  + ${page}: ${kb(gzipBytes)} (${files.join(", ") || "nothing more"})`),
  ].join("\n");
}

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
    build: { outDir: temporary, emptyOutDir: true, target: "es2022", sourcemap: false, reportCompressedSize: false, manifest: true },
  });
  const sizes = compressAssets(temporary);
  writeFileSync(join(temporary, BUNDLE_SIZES_FILE), `${JSON.stringify(sizes, null, 2)}\n`);
  writeFileSync(join(temporary, STAMP_FILE), hash);
  rmSync(WEB_DIST_DIR, { recursive: true, force: true });
  try {
    renameSync(temporary, WEB_DIST_DIR);
  } catch (error) {
    // Another process won the race with the same sources; its build is as good as ours.
    rmSync(temporary, { recursive: true, force: true });
    if (!isWebUiCurrent()) throw error;
  }
  logger?.info({ ms: Date.now() - started, firstPageGzipBytes: sizes.firstPage.gzipBytes, totalGzipBytes: sizes.total.gzipBytes }, "built the web UI");
  return WEB_DIST_DIR;
}

export async function registerWebUi(app: FastifyInstance, logger?: Pick<FastifyBaseLogger, "info" | "warn">): Promise<void> {
  const root = await ensureWebUiBuilt(logger);
  if (!statSync(root).isDirectory()) throw new Error(`web UI folder ${root} is missing`);
  await app.register(fastifyStatic, {
    root,
    prefix: "/",
    index: ["index.html"],
    // The .gz files written beside the assets at build time, for browsers that accept gzip.
    preCompressed: true,
    // Hashed asset names change with their content: cache them for long; index.html never.
    setHeaders(reply, path) {
      reply.header("cache-control", path.includes(`${join("assets", "")}`) ? "public, max-age=31536000, immutable" : "no-cache");
    },
  });
}
