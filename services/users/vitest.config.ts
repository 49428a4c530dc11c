import { defineProject } from "vitest/config";

// PGlite shards take seconds to start and the Redis + Postgres target creates databases.
export default defineProject({
  test: { name: "users", include: ["test/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 120_000 },
});
