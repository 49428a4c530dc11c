// Thin bus entry points: validate who calls, hand over to the use cases.
import { RpcError, RpcErrorCodes, type RpcContext, type RpcServer } from "@boxoffice/bus";
import { paymentsChargeV1, paymentsGetV1, paymentsHealthV1, paymentsListV1, paymentsRefundV1 } from "@boxoffice/contracts";
import type { TokenVerifier } from "@boxoffice/identity";
import { paymentsError, PaymentsErrorCodes } from "../errors.ts";
import { charge, getPayment, listLedger, refund, type PaymentsDeps } from "../domain/payments.ts";
import { ProcessorUnavailableError } from "../domain/processor.ts";
import type { Sql } from "../store/sql.ts";

export interface PaymentsHandlerDeps {
  domain: PaymentsDeps;
  verifier: Pick<TokenVerifier, "requireUser">;
  shards: () => Sql[];
}

/** A processor outage is the caller's to retry (same idempotency key): nothing was charged. */
async function processorCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof ProcessorUnavailableError) throw new RpcError(RpcErrorCodes.UNAVAILABLE, error.message, { retryable: true });
    throw error;
  }
}

export function registerPaymentsHandlers(server: RpcServer, deps: PaymentsHandlerDeps): void {
  server.handle(paymentsChargeV1, async (input, ctx) => {
    const user = await deps.verifier.requireUser(ctx);
    return processorCall(() => charge({ buyerId: user.userId, ...input }, deps.domain));
  });

  server.handle(paymentsRefundV1, async (input, ctx: RpcContext) => {
    // With a token: the caller's own payment. Without one: a service's call (inventory's
    // automatic refunds), which must name the buyer whose payment it is.
    let buyerId: string;
    if (ctx.token) {
      buyerId = (await deps.verifier.requireUser(ctx)).userId;
    } else if (input.buyerId) {
      buyerId = input.buyerId;
    } else {
      throw paymentsError(PaymentsErrorCodes.VALIDATION_FAILED, "buyerId is required without an identity token", { fields: ["buyerId"] });
    }
    return processorCall(() =>
      refund({ buyerId, paymentId: input.paymentId, idempotencyKey: input.idempotencyKey, reason: input.reason }, deps.domain),
    );
  });

  server.handle(paymentsListV1, async (input, ctx) => {
    const user = await deps.verifier.requireUser(ctx);
    return listLedger({ buyerId: user.userId, limit: input.limit, cursor: input.cursor }, deps.domain);
  });

  // Read-only, for inventory's service identity only (the contract's access; no user token involved).
  server.handle(paymentsGetV1, async (input) => getPayment(input.paymentId, deps.domain));

  server.handle(paymentsHealthV1, async () => {
    const shards = await Promise.all(
      deps.shards().map(async (sql) => {
        try {
          await sql.query("SELECT 1");
          return { shard: sql.shard, ok: true };
        } catch (error) {
          return { shard: sql.shard, ok: false, error: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
    return { service: "payments", ok: shards.every((s) => s.ok), bus: true, shards };
  });
}
