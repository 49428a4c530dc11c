// Thin bus entry points: the contract validated the input already; each handler calls one use case.
import type { RpcServer } from "@boxoffice/bus";
import { usersHealthV1, usersKeysV1, usersLoginV1, usersProfileV1, usersRefreshV1, usersRegisterV1, usersRevokeV1 } from "@boxoffice/contracts";
import type { TokenSigner, TokenVerifier } from "@boxoffice/identity";
import { withTrace, type Logger } from "@boxoffice/runtime";
import { getProfile, loginUser, refreshIdentity, registerUser, revokeRefreshToken, type LoginDeps, type RefreshDeps } from "../domain/accounts.ts";

export interface UsersHandlerDeps extends LoginDeps, RefreshDeps {
  signer: TokenSigner;
  verifier: TokenVerifier;
  logger: Logger;
}

export function registerUsersHandlers(server: RpcServer, deps: UsersHandlerDeps): void {
  server.handle(usersRegisterV1, async (input, ctx) => {
    const user = await registerUser(input, deps);
    withTrace(deps.logger, ctx.traceId).info({ userId: user.id }, "user registered");
    return { user };
  });

  server.handle(usersLoginV1, async (input, ctx) => {
    try {
      return await loginUser(input, deps);
    } catch (error) {
      // The email is logged to trace abuse; the password never is.
      withTrace(deps.logger, ctx.traceId).info({ email: input.email, clientAddress: input.clientAddress, code: (error as { code?: string }).code }, "login refused");
      throw error;
    }
  });

  server.handle(usersRefreshV1, (input) => refreshIdentity(input, deps));

  server.handle(usersRevokeV1, async (input) => {
    await revokeRefreshToken(input.refreshToken, deps);
    return {};
  });

  server.handle(usersProfileV1, async (_input, ctx) => {
    const me = await deps.verifier.requireUser(ctx);
    return { user: await getProfile(me.userId, deps) };
  });

  server.handle(usersKeysV1, async () => ({ keys: deps.signer.publicKeys() }));

  server.handle(usersHealthV1, async () => {
    const shards = await deps.store.checkShards();
    // We are answering over the bus, so the bus works.
    return { service: "users", ok: shards.every((s) => s.ok), bus: true, shards };
  });
}
