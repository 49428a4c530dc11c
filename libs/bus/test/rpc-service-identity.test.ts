// Services that know who calls them: a request carries the calling service's signed, short-lived
// proof of identity (addressed to the service it calls), and the server checks it and the method's
// declared callers before the handler runs. Same behaviours on the in-memory and the Redis layer.
import { requireRedis, uniqueName } from "@boxoffice/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  createInMemoryChannelLayer,
  createRedisChannelLayer,
  createRpcClient,
  createRpcServer,
  createServiceIdentity,
  createServiceIdentityVerifier,
  defineMethod,
  generateServiceIdentitySecret,
  InvalidRpcOptionError,
  parseServiceIdentities,
  RpcErrorCodes,
  serviceIdentityPublicKey,
  type ChannelLayer,
  type RpcClient,
  type RpcServer,
  type ServiceIdentity,
  type ServiceIdentityVerifier,
} from "../src/index.ts";

const redis = await requireRedis();

const targets = [
  { name: "in-memory layer", available: true, layer: (prefix: string) => createInMemoryChannelLayer({ prefix }) },
  { name: "Redis layer", available: redis.available, layer: (prefix: string) => createRedisChannelLayer({ prefix, hosts: [redis.url] }) },
];

const refundV1 = defineMethod({
  name: "vault.refund.v1",
  request: z.object({ amount: z.number() }),
  response: z.object({ refundedBy: z.string() }),
  access: { services: ["inventory"], roles: ["organizer"] },
});
const balanceV1 = defineMethod({
  name: "vault.balance.v1",
  request: z.object({}),
  response: z.object({ caller: z.string() }),
});

const secrets = { inventory: generateServiceIdentitySecret(), gateway: generateServiceIdentitySecret(), users: generateServiceIdentitySecret() };
const identities = Object.fromEntries(Object.entries(secrets).map(([service, secret]) => [service, serviceIdentityPublicKey(secret)]));
const tokenRoles: Record<string, string> = { "organizer-token": "organizer", "buyer-token": "buyer" };

describe.each(targets)("service identity on RPC ($name)", (target) => {
  const open: Array<{ close(): Promise<void> } | RpcClient | RpcServer> = [];
  afterEach(async () => {
    for (const thing of open.splice(0).reverse()) await ("stop" in thing ? thing.stop() : thing.close());
  });

  function setup(verifier: ServiceIdentityVerifier = createServiceIdentityVerifier({ identities })) {
    if (!target.available) return undefined;
    const layer: ChannelLayer = target.layer(uniqueName("identity"));
    open.push(layer);
    const server = createRpcServer({ layer, service: "vault", identities: verifier, userRole: async (token) => (token ? tokenRoles[token] : undefined) });
    server.handle(refundV1, (_input, ctx) => ({ refundedBy: ctx.caller }));
    server.handle(balanceV1, (_input, ctx) => ({ caller: ctx.caller }));
    server.start();
    open.push(server);
    const client = (service: string, secret?: string, identity?: ServiceIdentity) => {
      const rpc = createRpcClient({ layer, service, defaultDeadlineMs: 3000, identity: identity ?? (secret ? createServiceIdentity({ service, secret }) : undefined) });
      open.push(rpc);
      return rpc;
    };
    return { client };
  }

  it.skipIf(!target.available)("when the service a method names calls it with its identity, the handler runs and sees the verified caller", async () => {
    const { client } = setup()!;
    await expect(client("inventory", secrets.inventory).call(refundV1, { amount: 1 })).resolves.toEqual({ refundedBy: "inventory" });
  });

  it.skipIf(!target.available)("when another service calls a method that names its callers, it is refused as FORBIDDEN before the handler", async () => {
    const { client } = setup()!;
    await expect(client("gateway", secrets.gateway).call(refundV1, { amount: 1 }, { token: "buyer-token" })).rejects.toMatchObject({ code: RpcErrorCodes.FORBIDDEN });
  });

  it.skipIf(!target.available)("when another service calls it for a user whose role the method names, it is allowed", async () => {
    const { client } = setup()!;
    await expect(client("gateway", secrets.gateway).call(refundV1, { amount: 1 }, { token: "organizer-token" })).resolves.toEqual({ refundedBy: "gateway" });
  });

  it.skipIf(!target.available)("when a caller only claims to be inventory, without a proof, it is UNAUTHENTICATED", async () => {
    const { client } = setup()!;
    await expect(client("inventory").call(refundV1, { amount: 1 })).rejects.toMatchObject({ code: RpcErrorCodes.UNAUTHENTICATED });
  });

  it.skipIf(!target.available)("when a caller signs as inventory with a key that is not inventory's, it is UNAUTHENTICATED", async () => {
    const { client } = setup()!;
    await expect(client("inventory", generateServiceIdentitySecret()).call(refundV1, { amount: 1 })).rejects.toMatchObject({
      code: RpcErrorCodes.UNAUTHENTICATED,
      message: expect.stringMatching(/signature/),
    });
  });

  it.skipIf(!target.available)("when a proof addressed to another service is replayed here, it is UNAUTHENTICATED", async () => {
    const { client } = setup()!;
    // What payments could do with the proofs inventory sends it: stamp one on its own requests.
    const forPayments = createServiceIdentity({ service: "inventory", secret: secrets.inventory }).proofFor("payments");
    const thief = client("inventory", undefined, { service: "inventory", proofFor: () => forPayments });
    await expect(thief.call(refundV1, { amount: 1 })).rejects.toMatchObject({ code: RpcErrorCodes.UNAUTHENTICATED, message: expect.stringMatching(/issued for payments/) });
  });

  it.skipIf(!target.available)("when a method declares no callers, any authenticated service may call it", async () => {
    const { client } = setup()!;
    await expect(client("users", secrets.users).call(balanceV1, {})).resolves.toEqual({ caller: "users" });
  });
});

describe("service identity proofs", () => {
  it("when a proof is older than its lifetime, it is refused as expired", () => {
    let now = 1_000_000;
    const identity = createServiceIdentity({ service: "inventory", secret: secrets.inventory, ttlMs: 60_000, now: () => now });
    const verifier = createServiceIdentityVerifier({ identities, now: () => now });
    const proof = identity.proofFor("vault");
    expect(verifier.verify(proof, "vault")).toBe("inventory");
    now += 60_000 + 6_000;
    expect(() => verifier.verify(proof, "vault")).toThrow(/expired/);
  });

  it("when a client asks for proofs again within half the lifetime, it reuses one (signing is not per call)", () => {
    let now = 0;
    const identity = createServiceIdentity({ service: "inventory", secret: secrets.inventory, ttlMs: 60_000, now: () => now });
    const first = identity.proofFor("vault");
    now += 29_000;
    expect(identity.proofFor("vault")).toBe(first);
    now += 2_000;
    expect(identity.proofFor("vault")).not.toBe(first);
  });

  it("when SERVICE_IDENTITIES or a secret is malformed, the error says what shape is expected", () => {
    expect(parseServiceIdentities(`inventory=${identities.inventory}, users=${identities.users}`)).toEqual({ inventory: identities.inventory, users: identities.users });
    expect(() => parseServiceIdentities("inventory=abc")).toThrow(InvalidRpcOptionError);
    expect(() => createServiceIdentity({ service: "x", secret: "short" })).toThrow(/64 hex digits/);
  });

  it("when a client's identity belongs to another service than the client, it refuses to start", () => {
    const layer = createInMemoryChannelLayer();
    expect(() => createRpcClient({ layer, service: "gateway", identity: createServiceIdentity({ service: "inventory", secret: secrets.inventory }) })).toThrow(/identity/);
  });
});
