// Every error code the payments service answers with (codes and HTTP statuses live in the shared
// map of @boxoffice/contracts).
import { RpcError } from "@boxoffice/bus";
import { ErrorCodes } from "@boxoffice/contracts";

export const PaymentsErrorCodes = {
  VALIDATION_FAILED: ErrorCodes.VALIDATION_FAILED,
  NOT_FOUND: ErrorCodes.NOT_FOUND,
  PAYMENT_DECLINED: ErrorCodes.PAYMENT_DECLINED,
  IDEMPOTENCY_MISMATCH: ErrorCodes.IDEMPOTENCY_MISMATCH,
  UNAUTHENTICATED: ErrorCodes.UNAUTHENTICATED,
} as const;
export type PaymentsErrorCode = (typeof PaymentsErrorCodes)[keyof typeof PaymentsErrorCodes];

export function paymentsError(code: PaymentsErrorCode, message: string, details?: Record<string, unknown>): RpcError {
  return new RpcError(code, message, { retryable: false, details });
}
