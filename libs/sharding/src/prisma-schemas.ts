// Finding the repo's Prisma schemas and telling whether each committed generated client still
// matches its schema: generation records a hash of the schema (and the Prisma version) beside
// the output, and a test compares it, so a schema edited without `npm run generate` fails CI.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/** Globs searched: libs/<x>/test/**\/schema.prisma and services/<x>/prisma/schema.prisma. */
export function findPrismaSchemas(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === "node_modules" || entry.name === "generated") continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name === "schema.prisma") found.push(path);
    }
  };
  for (const lib of listDirs(join(root, "libs"))) if (existsSync(join(lib, "test"))) walk(join(lib, "test"));
  for (const service of listDirs(join(root, "services"))) {
    const schema = join(service, "prisma", "schema.prisma");
    if (existsSync(schema)) found.push(schema);
  }
  return found.sort();
}

function listDirs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isDirectory());
}

/** The generator's `output`, resolved against the schema's folder. */
export function generatedOutputDir(schemaFile: string): string {
  const text = readFileSync(schemaFile, "utf8");
  const match = /generator\s+\w+\s*\{[^}]*?\boutput\s*=\s*"([^"]+)"/s.exec(text);
  if (!match) throw new Error(`${schemaFile}: its generator has no output = "…" (required so the client can be committed)`);
  return resolve(dirname(schemaFile), match[1]);
}

export const SCHEMA_HASH_FILE = "schema.sha256";

export function prismaSchemaHash(schemaFile: string, prismaVersion: string): string {
  return createHash("sha256").update(`prisma ${prismaVersion}\n`).update(readFileSync(schemaFile)).digest("hex");
}

export interface StaleClient {
  readonly schema: string;
  /** "missing": nothing generated yet (the service's own tests fail on import); "stale": generated from another schema text. */
  readonly kind: "missing" | "stale";
  readonly reason: string;
}

/** Schemas whose committed client is missing or was generated from another schema text. */
export function staleGeneratedClients(root: string, prismaVersion: string): StaleClient[] {
  const stale: StaleClient[] = [];
  for (const schema of findPrismaSchemas(root)) {
    const rel = relative(root, schema);
    let out: string;
    try {
      out = generatedOutputDir(schema);
    } catch (error) {
      stale.push({ schema: rel, kind: "missing", reason: (error as Error).message });
      continue;
    }
    const hashFile = join(out, SCHEMA_HASH_FILE);
    if (!existsSync(join(out, "client.ts")) || !existsSync(hashFile)) {
      stale.push({ schema: rel, kind: "missing", reason: `no generated client in ${relative(root, out)}: run npm run generate` });
    } else if (readFileSync(hashFile, "utf8").trim() !== prismaSchemaHash(schema, prismaVersion)) {
      stale.push({ schema: rel, kind: "stale", reason: `client in ${relative(root, out)} was generated from another version of the schema: run npm run generate` });
    }
  }
  return stale;
}
