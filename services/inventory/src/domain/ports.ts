// What the use cases need from the outside world, as plain interfaces: tests and app.ts plug in
// the real shard router, id generator, payments client and publisher.
import type { Payment, PaymentCard, PaymentReference } from "@boxoffice/contracts";
import type { RpcContext } from "@boxoffice/bus";
import type { ShardSql } from "../store/sql.ts";
import type { GroupWait } from "@boxoffice/sharding";

export interface Ids {
  childOf(parentId: string): string;
}

export interface ChargeRequest {
  idempotencyKey: string;
  amountCents: number;
  card: PaymentCard;
  reference: PaymentReference;
}

/** The payments service as the checkout sees it (an RPC client with waitForCapacity underneath). */
export interface PaymentsPort {
  /** Charges with the caller's identity (the token of `context`); throws RpcError PAYMENT_DECLINED on declines. */
  charge(request: ChargeRequest, context: RpcContext | undefined): Promise<Payment>;
  /** Refunds a payment in full on the service's own authority (idempotent by key). */
  refund(request: { paymentId: string; buyerId: string; idempotencyKey: string; reason: string }): Promise<void>;
  /** The payment as payments' database has it; undefined when payments knows no such payment. */
  get(paymentId: string): Promise<Payment | undefined>;
}

/** Publishes an event's availability after it changed (coalesced; failures are logged, not thrown). */
export interface AvailabilityNotifier {
  changed(eventId: string): void;
}

/**
 * Fault injection for crash tests: a hook that throws stands for the orchestrator dying at that
 * point (nothing after it runs). Never set in production.
 */
export interface CheckoutFaults {
  afterCharge?: (info: { holdId: string; paymentId: string }) => void | Promise<void>;
  afterConfirm?: (info: { holdId: string; orderId: string }) => void | Promise<void>;
}

export interface InventoryDeps {
  shards: ShardSql;
  ids: Ids;
  now: () => Date;
  holdTtlSeconds: number;
  counterSlots: number;
  /** Active holds one buyer may have at once, across every event (MAX_ACTIVE_HOLDS_PER_BUYER). */
  maxActiveHoldsPerBuyer: number;
  /**
   * Most holds by quantity of one event served by one transaction (group commit); 1 or unset: every
   * hold is its own transaction (INVENTORY_HOLD_BATCH_MAX).
   */
  holdBatchMax?: number;
  /** Most usual confirmations of one logical shard done by one transaction (INVENTORY_CONFIRM_BATCH_MAX); 1 or unset: one each. */
  confirmBatchMax?: number;
  /** Most checkout idempotency records of one physical shard written by one statement (INVENTORY_RECORD_BATCH_MAX); 1 or unset: one each. */
  recordBatchMax?: number;
  /**
   * How long a hold, confirmation or checkout record of a hot key waits for company before its group commit starts
   * (INVENTORY_BATCH_WAIT_MS, INVENTORY_BATCH_HOT_MS); unset or ms = 0: never waits.
   */
  batchWait?: GroupWait;
  /** Secret for hashing request bodies (idempotency) so no card number is stored recoverably. */
  hashSecret: string;
  availability: AvailabilityNotifier;
  payments: PaymentsPort;
  faults?: CheckoutFaults;
}
