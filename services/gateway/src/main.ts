// One gateway process (distributed mode): config from the environment, the bus and firehose from
// BUS_URL/FIREHOSE_URL, then listen. Many of these run behind a load balancer.
import { runServiceProcess } from "@boxoffice/runtime";
import { buildGateway } from "./app.ts";
import { gatewayConfigSchema } from "./config.ts";

await runServiceProcess({
  service: "gateway",
  configSchema: gatewayConfigSchema,
  async start(config, deps) {
    const gateway = await buildGateway(config, { layer: deps.layer, firehose: deps.firehose, logger: deps.logger });
    const url = await gateway.start();
    deps.logger.info({ url }, "gateway listening");
    return gateway;
  },
});
