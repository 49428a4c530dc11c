import { defineConfig } from "vitest/config";

// Every project under libs/ and services/ is a vitest project (each has its own vitest.config.ts);
// "workspace" holds the checks that are about the repository as a whole (lint boundaries, layout).
export default defineConfig({
  test: {
    projects: [
      "libs/*/vitest.config.ts",
      "services/*/vitest.config.ts",
      "load-tests/vitest.config.ts",
      { test: { name: "workspace", include: ["tools/test/**/*.test.ts"] } },
    ],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
