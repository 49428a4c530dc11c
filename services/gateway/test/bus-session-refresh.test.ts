// Session refresh over the real RPC client: the refresh token from users.login.v1 is exchanged on
// users.refresh.v1 and the fresh identity token is what the next service call carries.
import { afterAll, describe, expect, it } from "vitest";
import { createInMemoryChannelLayer, createInMemoryFirehose, createRpcServer, RpcError } from "@boxoffice/bus";
import { inventoryOrdersV1, usersLoginV1, usersRefreshV1 } from "@boxoffice/contracts";
import { buildGateway } from "../src/app.ts";
import { loadGatewayConfig } from "../src/config.ts";
import { newSessionKey, sessionCookie } from "./helpers.ts";

const layer = createInMemoryChannelLayer();
const firehose = createInMemoryFirehose();
const users = createRpcServer({ layer, service: "users" });
const inventory = createRpcServer({ layer, service: "inventory" });
const user = { id: "42", email: "bea@example.test", displayName: "Bea", role: "buyer" as const };
let issued = 0;
const tokensSeen: Array<string | undefined> = [];

users.handle(usersLoginV1, async () => ({
  user,
  token: "identity-0",
  // Already expired by the time the buyer comes back.
  expiresAt: new Date(Date.now() - 1000).toISOString(),
  refreshToken: "refresh-good",
  refreshExpiresAt: new Date(Date.now() + 86_400_000).toISOString(),
}));
users.handle(usersRefreshV1, async (input) => {
  if (input.refreshToken !== "refresh-good") throw new RpcError("UNAUTHENTICATED", "refresh refused", { retryable: false });
  return { user, token: `identity-${++issued}`, expiresAt: new Date(Date.now() + 900_000).toISOString() };
});
inventory.handle(inventoryOrdersV1, async (_input, ctx) => {
  tokensSeen.push(ctx.token);
  return { orders: [], nextCursor: null };
});
users.start();
inventory.start();

const gateway = await buildGateway(loadGatewayConfig({ SESSION_KEYS: newSessionKey(), SERVE_WEB: "false", LOG_LEVEL: "silent" }), { layer, firehose });
await gateway.app.ready();

afterAll(async () => {
  await gateway.stop();
  await users.stop();
  await inventory.stop();
  await firehose.close();
  await layer.close();
});

describe("session refresh over the bus", () => {
  it("when the identity token has expired, the gateway refreshes it on users.refresh.v1 and the call carries the fresh one", async () => {
    const signIn = await gateway.app.inject({ method: "POST", url: "/api/session", payload: { email: user.email, password: "whatever-it-is" } });
    expect(signIn.statusCode).toBe(200);
    const orders = await gateway.app.inject({ method: "GET", url: "/api/orders", headers: { cookie: sessionCookie(signIn) } });
    expect(orders.statusCode).toBe(200);
    expect(tokensSeen).toEqual(["identity-1"]);
    const again = await gateway.app.inject({ method: "GET", url: "/api/orders", headers: { cookie: sessionCookie(orders) } });
    expect(again.statusCode).toBe(200);
    expect(tokensSeen).toEqual(["identity-1", "identity-1"]);
  });
});
