// Sign-ups per client address: one script on one address must not mint the thousands of buyers it
// would take to hold a stadium. Production limits by default; development does not (local load
// tests sign up thousands from 127.0.0.1) unless SIGN_UPS_PER_ADDRESS_PER_HOUR is set.
import { afterAll, describe, expect, it } from "vitest";
import { createInMemoryChannelLayer, createInMemoryFirehose, createRpcServer } from "@boxoffice/bus";
import { usersRegisterV1 } from "@boxoffice/contracts";
import { buildGateway, type Gateway } from "../src/app.ts";
import { loadGatewayConfig } from "../src/config.ts";
import { newSessionKey } from "./helpers.ts";

const layer = createInMemoryChannelLayer();
const firehose = createInMemoryFirehose();
const users = createRpcServer({ layer, service: "users" });
let registered = 0;
users.handle(usersRegisterV1, async (request) => ({ user: { id: String(++registered), email: request.email, displayName: request.displayName, role: "buyer" as const } }));
users.start();

const gateways: Gateway[] = [];
async function gateway(env: Record<string, string>): Promise<Gateway> {
  // One proxy in front, so each test names its client's address in X-Forwarded-For.
  const built = await buildGateway(loadGatewayConfig({ SESSION_KEYS: newSessionKey(), SERVE_WEB: "false", LOG_LEVEL: "silent", TRUST_PROXY: "1", ...env }), { layer, firehose });
  await built.app.ready();
  gateways.push(built);
  return built;
}

afterAll(async () => {
  for (const built of gateways) await built.stop();
  await users.stop();
  await firehose.close();
  await layer.close();
});

const signUp = (built: Gateway, address: string, n: number) =>
  built.app.inject({ method: "POST", url: "/api/users", headers: { "x-forwarded-for": address }, payload: { email: `buyer${n}@example.test`, password: "a-long-password", displayName: `Buyer ${n}` } });

describe("sign-ups per address", () => {
  it("when one address creates more accounts than SIGN_UPS_PER_ADDRESS_PER_HOUR, the next is 429 RATE_LIMITED with Retry-After, and another address still signs up", async () => {
    const built = await gateway({ SIGN_UPS_PER_ADDRESS_PER_HOUR: "3" });
    for (let n = 0; n < 3; n++) expect((await signUp(built, "203.0.113.7", n)).statusCode).toBe(201);
    const refused = await signUp(built, "203.0.113.7", 3);
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ error: { code: "RATE_LIMITED" } });
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
    expect((await signUp(built, "198.51.100.9", 4)).statusCode).toBe(201);
  });

  it("when NODE_ENV=production and nothing is set, an address gets 300 sign-ups an hour; in development there is no limit", async () => {
    const production = await gateway({ NODE_ENV: "production" });
    for (let n = 0; n < 300; n++) expect((await signUp(production, "203.0.113.8", 1000 + n)).statusCode).toBe(201);
    expect((await signUp(production, "203.0.113.8", 1300)).statusCode).toBe(429);
    const development = await gateway({});
    for (let n = 0; n < 301; n++) expect((await signUp(development, "203.0.113.9", 2000 + n)).statusCode).toBe(201);
  });
});
