// Where the example service's Prisma files live, for tests and benchmarks.
import { join } from "node:path";

export const EXAMPLE_PRISMA_DIR = join(import.meta.dirname, "prisma");
export const EXAMPLE_MIGRATIONS = join(EXAMPLE_PRISMA_DIR, "migrations");
