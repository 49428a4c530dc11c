// A new PGlite database costs seconds (its initdb); unpacking a dump of an empty one costs about
// what reopening does. The template is made once per PGlite version (at install, by
// prepare-embedded.ts, or on the first fresh start) and every fresh DATA_DIR starts from it.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";

/** The installed PGlite's version (its package.json is not exported, so found beside its entry). */
function pgliteVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.resolve("@electric-sql/pglite")));
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;
}

/** Where the template lives: node_modules/.cache, so a reinstall of PGlite makes a new one. */
export const PGLITE_TEMPLATE_FILE = join(import.meta.dirname, "..", "..", "..", "node_modules", ".cache", "boxoffice", `pglite-${pgliteVersion()}-empty.tgz`);

/** Makes the template unless it exists; returns its path. */
export async function ensurePgliteTemplate(file = PGLITE_TEMPLATE_FILE): Promise<string> {
  if (existsSync(file)) return file;
  const db = new PGlite();
  try {
    await db.waitReady;
    const dump = await db.dumpDataDir("gzip");
    mkdirSync(dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, Buffer.from(await dump.arrayBuffer()));
    renameSync(temporary, file);
  } finally {
    await db.close();
  }
  return file;
}

/**
 * Gives an empty or missing data dir the template's contents, so the first open is a reopen.
 * Leaves an existing database alone; without a template it does nothing (PGlite runs initdb).
 */
export async function createDatabaseFromTemplate(dataDir: string, file = PGLITE_TEMPLATE_FILE): Promise<boolean> {
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) return false;
  if (!existsSync(file)) return false;
  const db = new PGlite(dataDir, { loadDataDir: new Blob([readFileSync(file)]) });
  await db.waitReady;
  await db.close();
  return true;
}
