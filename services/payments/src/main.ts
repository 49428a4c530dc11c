// The payments process: config from the environment, connect, build, serve; SIGTERM drains.
import { runServiceProcess } from "@boxoffice/runtime";
import { buildPaymentsService } from "./app.ts";
import { paymentsConfigSchema, paymentsPublicDefaults } from "./config.ts";

await runServiceProcess({
  service: "payments",
  configSchema: paymentsConfigSchema,
  publicDefaults: paymentsPublicDefaults,
  async start(config, deps) {
    const service = buildPaymentsService(config, deps);
    await service.start();
    return service;
  },
});
