// The simulated card processor: the test cards of the HTTP API, a configurable latency, and
// injected transient failures for load and fault tests. It sees the card number; nothing else does.
import type { PaymentCard } from "@boxoffice/contracts";

export type DeclineCode = "card_declined" | "insufficient_funds" | "invalid_number";

export type ProcessorResult = { approved: true; last4: string } | { approved: false; declineCode: DeclineCode; last4: string };

export interface CardProcessor {
  /** Authorises and captures; throws ProcessorUnavailableError for an injected transient failure. */
  charge(card: PaymentCard, amountCents: number): Promise<ProcessorResult>;
  refund(amountCents: number): Promise<void>;
}

/** The processor did not answer (injected): nothing was charged, the caller may retry. */
export class ProcessorUnavailableError extends Error {
  readonly code = "PROCESSOR_UNAVAILABLE" as const;
  constructor() {
    super("the card processor is unavailable (injected failure)");
    this.name = "ProcessorUnavailableError";
  }
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
  async function call(): Promise<void> {
    if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));
    if (failRate > 0 && random() < failRate) throw new ProcessorUnavailableError();
  }
  return {
    async charge(card) {
      await call();
      const number = digitsOf(card.cardNumber);
      const known = TEST_CARDS[number];
      const last4 = number.slice(-4);
      if (known === "approved") return { approved: true, last4 };
      return { approved: false, declineCode: known ?? "invalid_number", last4 };
    },
    async refund() {
      await call();
    },
  };
}
