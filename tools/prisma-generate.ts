// `npm run generate`: regenerates the committed Prisma client of every schema in the repo
// (libs/*/test/**/schema.prisma, services/*/prisma/schema.prisma) and records the schema hash the
// staleness test checks. Works offline: the Prisma CLI only needs its schema engine path to exist
// (generation does not use it), so we point it at this Node binary.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { SCHEMA_HASH_FILE, findPrismaSchemas, generatedOutputDir, prismaSchemaHash } from "@boxoffice/sharding";

const root = join(import.meta.dirname, "..");
const require = createRequire(join(root, "libs/sharding/package.json"));
const prismaVersion = (require("prisma/package.json") as { version: string }).version;
const prismaCli = join(root, "node_modules/.bin/prisma");
const only = process.argv.slice(2);

let failed = 0;
for (const schema of findPrismaSchemas(root)) {
  const rel = relative(root, schema);
  if (only.length > 0 && !only.some((o) => rel.includes(o))) continue;
  const result = spawnSync(prismaCli, ["generate", "--schema", schema], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8",
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath, PRISMA_HIDE_UPDATE_MESSAGE: "1" },
  });
  if (result.status !== 0) {
    failed++;
    console.error(`✗ ${rel}\n${result.stdout}${result.stderr}`);
    continue;
  }
  const out = generatedOutputDir(schema);
  writeFileSync(join(out, SCHEMA_HASH_FILE), `${prismaSchemaHash(schema, prismaVersion)}\n`);
  console.log(`✓ ${rel} → ${relative(root, out)}`);
}
process.exit(failed > 0 ? 1 : 0);
