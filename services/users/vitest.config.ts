import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "users", include: ["test/**/*.test.ts"] },
});
