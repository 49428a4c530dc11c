// A service process whose start fails after it made something that keeps the event loop alive
// (a timer, as a half-built server or a Redis client that keeps retrying would). Used by
// process.test.ts: the process must still exit non-zero rather than hang, never serving.
import { z } from "zod";
import { commonConfigShape, runServiceProcess } from "../../src/index.ts";

await runServiceProcess({
  service: "half-started",
  configSchema: z.object({ ...commonConfigShape }),
  async start(_config, { logger }) {
    setInterval(() => logger.info("still alive"), 60_000);
    throw new Error("Redis is unavailable at start");
  },
});
