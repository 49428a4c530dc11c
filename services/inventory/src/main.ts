// The inventory process: config from the environment, connect, build, serve; SIGTERM drains.
import { runServiceProcess } from "@boxoffice/runtime";
import { buildInventoryService } from "./app.ts";
import { inventoryConfigSchema } from "./config.ts";

await runServiceProcess({
  service: "inventory",
  configSchema: inventoryConfigSchema,
  async start(config, deps) {
    const service = buildInventoryService(config, deps);
    await service.start();
    return service;
  },
});
