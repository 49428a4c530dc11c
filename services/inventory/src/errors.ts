// Every error code the inventory service answers with. Domain codes come from the shared map in
// @boxoffice/contracts (so the gateway knows their HTTP status); each is raised through one helper
// here so handlers never spell a code twice.
import { RpcError } from "@boxoffice/bus";
import { ErrorCodes } from "@boxoffice/contracts";

export const InventoryErrorCodes = {
  VALIDATION_FAILED: ErrorCodes.VALIDATION_FAILED,
  NOT_FOUND: ErrorCodes.NOT_FOUND,
  SOLD_OUT: ErrorCodes.SOLD_OUT,
  SEAT_UNAVAILABLE: ErrorCodes.SEAT_UNAVAILABLE,
  LIMIT_EXCEEDED: ErrorCodes.LIMIT_EXCEEDED,
  HOLD_EXPIRED: ErrorCodes.HOLD_EXPIRED,
  PAYMENT_DECLINED: ErrorCodes.PAYMENT_DECLINED,
  IDEMPOTENCY_MISMATCH: ErrorCodes.IDEMPOTENCY_MISMATCH,
  NOT_ADMITTED: ErrorCodes.NOT_ADMITTED,
} as const;
export type InventoryErrorCode = (typeof InventoryErrorCodes)[keyof typeof InventoryErrorCodes];

/** A domain error of inventory; crosses the bus as {code, message, retryable, details}. */
export function inventoryError(code: InventoryErrorCode, message: string, details?: Record<string, unknown>): RpcError {
  return new RpcError(code, message, { retryable: false, details });
}
