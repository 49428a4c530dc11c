// A service process whose start succeeds and which then hits a bug nobody handles (a rejected
// promise in the background), as a process entry point runs it. Used by process.test.ts.
import { z } from "zod";
import { commonConfigShape, runServiceProcess } from "../../src/index.ts";

await runServiceProcess({
  service: "crasher",
  configSchema: z.object({ ...commonConfigShape }),
  async start(_config, { logger }) {
    const timer = setInterval(() => logger.info("still alive"), 60_000);
    setTimeout(() => {
      // eslint-disable-next-line @typescript-eslint/no-floating-promises -- the bug under test
      Promise.reject(new Error("a bug nobody handles"));
    }, 50);
    return {
      async stop() {
        clearInterval(timer);
        logger.info("drained");
      },
    };
  },
});
