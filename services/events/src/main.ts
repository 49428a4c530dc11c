// The events service as its own process: config from the environment, bus and firehose from it,
// SIGTERM drains. The only file with side effects.
import { runServiceProcess } from "@boxoffice/runtime";
import { buildEventsService } from "./app.ts";
import { eventsConfigSchema } from "./config.ts";

await runServiceProcess({
  service: "events",
  configSchema: eventsConfigSchema,
  async start(config, { layer, firehose, logger }) {
    const service = buildEventsService(config, { layer, firehose, logger });
    await service.start();
    return service;
  },
});
