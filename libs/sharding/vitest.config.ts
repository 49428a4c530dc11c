import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "sharding", include: ["test/**/*.test.ts"] },
});
