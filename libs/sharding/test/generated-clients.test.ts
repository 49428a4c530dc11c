import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findPrismaSchemas, staleGeneratedClients } from "../src/index.ts";

const root = join(import.meta.dirname, "../../..");
const prismaVersion = (createRequire(import.meta.url)("prisma/package.json") as { version: string }).version;

describe("committed Prisma clients", () => {
  it("when a schema in the repo changes, its committed client must be regenerated (npm run generate) or this fails", () => {
    const schemas = findPrismaSchemas(root).map((s) => s.slice(root.length + 1));
    expect(schemas).toContain("libs/sharding/test/example/prisma/schema.prisma");
    const problems = staleGeneratedClients(root, prismaVersion);
    // A schema with no client at all fails its own service's tests on import; a stale one would not.
    expect(problems.filter((p) => p.kind === "stale" || p.schema.startsWith("libs/sharding/"))).toEqual([]);
  });
});
