// Sign-in waits are the users service's (per email and address, shared by every gateway, growing
// with each failure): the gateway passes them on as Retry-After instead of answering first with a
// fixed wait of its own.
import { afterAll, describe, expect, it } from "vitest";
import { createInMemoryChannelLayer, createInMemoryFirehose, createRpcServer, RpcError } from "@boxoffice/bus";
import { usersLoginV1 } from "@boxoffice/contracts";
import { buildGateway } from "../src/app.ts";
import { loadGatewayConfig } from "../src/config.ts";
import { newSessionKey } from "./helpers.ts";

const layer = createInMemoryChannelLayer();
const firehose = createInMemoryFirehose();
const users = createRpcServer({ layer, service: "users" });
let failures = 0;
// Like users: five failures, then a wait that doubles with each further one.
users.handle(usersLoginV1, async () => {
  failures++;
  if (failures <= 5) throw new RpcError("INVALID_CREDENTIALS", "wrong email or password");
  const retryAfterSeconds = 30 * 2 ** (failures - 6);
  throw new RpcError("RATE_LIMITED", `too many failed sign-in attempts; try again in ${retryAfterSeconds} s`, { retryable: true, details: { retryAfterSeconds } });
});
users.start();

const gateway = await buildGateway(loadGatewayConfig({ SESSION_KEYS: newSessionKey(), SERVE_WEB: "false", LOG_LEVEL: "silent" }), { layer, firehose });
await gateway.app.ready();

afterAll(async () => {
  await gateway.stop();
  await users.stop();
  await firehose.close();
  await layer.close();
});

describe("sign-in waits", () => {
  it("when users makes a guesser wait longer after each failure, the 429s carry its growing Retry-After", async () => {
    const attempt = () => gateway.app.inject({ method: "POST", url: "/api/session", payload: { email: "ivy@example.test", password: "wrong-password" } });
    for (let i = 0; i < 5; i++) expect((await attempt()).statusCode).toBe(401);
    const waits: Array<[number, string | undefined, string]> = [];
    for (let i = 0; i < 3; i++) {
      const refused = await attempt();
      waits.push([refused.statusCode, refused.headers["retry-after"] as string | undefined, refused.json().error.code]);
    }
    expect(waits).toEqual([
      [429, "30", "RATE_LIMITED"],
      [429, "60", "RATE_LIMITED"],
      [429, "120", "RATE_LIMITED"],
    ]);
  });
});
