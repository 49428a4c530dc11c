// The users service as its own process: config from the environment, bus and firehose from it,
// SIGTERM drains. The only file with side effects.
import { runServiceProcess } from "@boxoffice/runtime";
import { buildUsersService } from "./app.ts";
import { usersConfigSchema, usersPublicDefaults } from "./config.ts";

await runServiceProcess({
  service: "users",
  configSchema: usersConfigSchema,
  publicDefaults: usersPublicDefaults,
  async start(config, { layer, logger }) {
    const service = buildUsersService(config, { layer, logger });
    await service.start();
    return service;
  },
});
