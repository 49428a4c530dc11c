// A TCP port free on `host` right now (the kernel picks it): for the gateways and the balancer of start:distributed.
import { createServer } from "node:net";

export async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
