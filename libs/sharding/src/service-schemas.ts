// Which Postgres schemas hold a service's tables, read from its Prisma schema (the datasource's
// `schemas = [...]` and each model's `@@schema`; Prisma's default is "public"). A shard move must
// know them: the connection's search path says nothing about where a service keeps its rows.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ShardMapInvalidError } from "./errors.ts";

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The database schemas a Prisma schema file declares (at least "public" when it declares none). */
export function databaseSchemasOf(prismaSchemaFile: string): string[] {
  if (!existsSync(prismaSchemaFile)) throw new ShardMapInvalidError(`no Prisma schema at ${prismaSchemaFile}`, { file: prismaSchemaFile });
  const text = readFileSync(prismaSchemaFile, "utf8").replace(/\/\/.*$/gm, "");
  const found = new Set<string>();
  const datasource = /datasource\s+\w+\s*\{([^}]*)\}/s.exec(text)?.[1] ?? "";
  const list = /\bschemas\s*=\s*\[([^\]]*)\]/s.exec(datasource)?.[1];
  if (list) for (const m of list.matchAll(/"([^"]+)"/g)) found.add(m[1]);
  for (const m of text.matchAll(/@@schema\(\s*"([^"]+)"\s*\)/g)) found.add(m[1]);
  if (found.size === 0) found.add("public");
  for (const name of found) {
    if (!SCHEMA_NAME.test(name)) throw new ShardMapInvalidError(`schema name "${name}" in ${prismaSchemaFile} is not a plain lower-case identifier`, { schema: name });
  }
  return [...found].sort();
}

/** The schemas of the service in `services/<service>/` under `root` (its prisma/schema.prisma). */
export function serviceDatabaseSchemas(root: string, service: string): string[] {
  return databaseSchemasOf(join(root, "services", service, "prisma", "schema.prisma"));
}
