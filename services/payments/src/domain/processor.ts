// The simulated card processor: the test cards of the HTTP API, a configurable latency, and
// injected transient failures for load and fault tests. It sees the card number; nothing else does.
//
// Like Stripe it honours an idempotency key: the same key returns the first call's result and never
// charges (or refunds) a second time, and `retrieve` tells what a key did. It keeps its books in a
// ProcessorBooks (in memory, or a table the payments service never writes in its own transactions),
// so they survive whatever happens to the caller's transaction, as a real processor's would.
import type { PaymentCard } from "@boxoffice/contracts";

export type DeclineCode = "card_declined" | "insufficient_funds" | "invalid_number";

export type ProcessorResult = { approved: true; last4: string } | { approved: false; declineCode: DeclineCode; last4: string };

export interface ProcessorChargeRequest {
  /** Same key → the first call's result, never a second charge. */
  idempotencyKey: string;
  card: PaymentCard;
  amountCents: number;
}

export interface CardProcessor {
  /** Authorises and captures once per key; throws ProcessorUnavailableError for an injected transient failure. */
  charge(request: ProcessorChargeRequest): Promise<ProcessorResult>;
  /** What the charge with this key did, or undefined when the processor never charged with it. */
  retrieve(idempotencyKey: string): Promise<ProcessorResult | undefined>;
  /** Refunds once per key. */
  refund(request: { idempotencyKey: string; amountCents: number }): Promise<void>;
}

/** The processor did not answer (injected): nothing was charged, the caller may retry. */
export class ProcessorUnavailableError extends Error {
  readonly code = "PROCESSOR_UNAVAILABLE" as const;
  constructor() {
    super("the card processor is unavailable (injected failure)");
    this.name = "ProcessorUnavailableError";
  }
}

/** The processor's own record of what each idempotency key did. */
export interface ProcessorBooks {
  read(key: string): Promise<ProcessorResult | undefined>;
  /** Records the result of `key` unless one exists; returns the one in force (the first). */
  record(key: string, entry: { kind: "charge" | "refund"; amountCents: number; result: ProcessorResult }): Promise<ProcessorResult>;
}

export function createMemoryProcessorBooks(): ProcessorBooks & { entries: Map<string, ProcessorResult> } {
  const entries = new Map<string, ProcessorResult>();
  return {
    entries,
    async read(key) {
      return entries.get(key);
    },
    async record(key, entry) {
      const first = entries.get(key);
      if (first) return first;
      entries.set(key, entry.result);
      return entry.result;
    },
  };
}

export const TEST_CARDS: Readonly<Record<string, "approved" | DeclineCode>> = {
  "4242424242424242": "approved",
  "4000000000000002": "card_declined",
  "4000000000009995": "insufficient_funds",
};

export interface SimulatedProcessorOptions {
  /** Added to every call (PAYMENTS_LATENCY_MS). Default 0. */
  latencyMs?: number;
  /** Probability 0–1 that a call fails as unavailable (PAYMENTS_FAIL_RATE). Default 0. */
  failRate?: number;
  random?: () => number;
  /** Where the processor keeps its books. Default: in this process's memory. */
  books?: ProcessorBooks;
}

export function digitsOf(cardNumber: string): string {
  return cardNumber.replace(/[^0-9]/g, "");
}

export function last4Of(cardNumber: string): string {
  return digitsOf(cardNumber).slice(-4);
}

export function createSimulatedProcessor(options: SimulatedProcessorOptions = {}): CardProcessor {
  const latencyMs = options.latencyMs ?? 0;
  const failRate = options.failRate ?? 0;
  const random = options.random ?? Math.random;
  const books = options.books ?? createMemoryProcessorBooks();
  async function call(): Promise<void> {
    if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));
    if (failRate > 0 && random() < failRate) throw new ProcessorUnavailableError();
  }
  return {
    async charge(request) {
      await call();
      // No read first: record keeps the first result of a key and returns it, so a repeat gets the
      // first call's answer (and charges nothing) from one visit to the books.
      const number = digitsOf(request.card.cardNumber);
      const known = TEST_CARDS[number];
      const last4 = number.slice(-4);
      const result: ProcessorResult = known === "approved" ? { approved: true, last4 } : { approved: false, declineCode: known ?? "invalid_number", last4 };
      return books.record(`charge:${request.idempotencyKey}`, { kind: "charge", amountCents: request.amountCents, result });
    },
    async retrieve(idempotencyKey) {
      await call();
      return books.read(`charge:${idempotencyKey}`);
    },
    async refund(request) {
      await call();
      await books.record(`refund:${request.idempotencyKey}`, { kind: "refund", amountCents: request.amountCents, result: { approved: true, last4: "" } });
    },
  };
}
