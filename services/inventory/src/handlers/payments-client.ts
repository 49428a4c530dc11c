// The payments service as the checkout sees it: bus calls that wait for channel capacity (a payment
// never fails because a channel was momentarily full) and retry retryable failures with the same
// idempotency key (a retry can never charge twice).
import { RpcError, type RpcClient, type RpcContext } from "@boxoffice/bus";
import { ErrorCodes, paymentsChargeV1, paymentsGetV1, paymentsRefundV1 } from "@boxoffice/contracts";
import type { PaymentsPort } from "../domain/ports.ts";

const ATTEMPTS = 5;

async function withRetries<T>(fn: () => Promise<T>, deadline: number): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const retryable = error instanceof RpcError && error.retryable;
      const backoff = Math.min(500, 20 * 2 ** attempt) * (0.5 + Math.random() / 2);
      if (!retryable || attempt >= ATTEMPTS || Date.now() + backoff >= deadline) throw error;
      await new Promise((r) => setTimeout(r, backoff));
    }
  }
}

export function createPaymentsClient(rpc: RpcClient, defaultDeadlineMs: number): PaymentsPort {
  return {
    charge(request, context: RpcContext | undefined) {
      const deadline = context?.deadline ?? Date.now() + defaultDeadlineMs;
      return withRetries(() => rpc.call(paymentsChargeV1, request, { waitForCapacity: true, context }), deadline).then((r) => r.payment);
    },
    async refund(request) {
      // No user token: an automatic refund is the service's decision, so it names the buyer.
      await withRetries(
        () => rpc.call(paymentsRefundV1, request, { waitForCapacity: true, deadlineMs: defaultDeadlineMs }),
        Date.now() + defaultDeadlineMs,
      );
    },
    async get(paymentId) {
      try {
        const { payment } = await withRetries(
          () => rpc.call(paymentsGetV1, { paymentId }, { waitForCapacity: true, deadlineMs: defaultDeadlineMs }),
          Date.now() + defaultDeadlineMs,
        );
        return payment;
      } catch (error) {
        if (error instanceof RpcError && error.code === ErrorCodes.NOT_FOUND) return undefined;
        throw error;
      }
    },
  };
}
