// The inventory process: config from the environment, connect, build, serve; SIGTERM drains.
import { runServiceProcess } from "@boxoffice/runtime";
import { buildInventoryService } from "./app.ts";
import { inventoryConfigSchema, inventoryPublicDefaults } from "./config.ts";

await runServiceProcess({
  service: "inventory",
  configSchema: inventoryConfigSchema,
  publicDefaults: inventoryPublicDefaults,
  async start(config, deps) {
    const service = buildInventoryService(config, deps);
    await service.start();
    return service;
  },
});
