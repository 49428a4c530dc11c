import { defineProject } from "vitest/config";

// Embedded PGlite instances take 3–4 s each to create, so hooks get the same room as the root config.
export default defineProject({
  test: { name: "sharding", include: ["test/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 120_000 },
});
