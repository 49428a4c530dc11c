// @boxoffice/payments: the public API is the build function and its config schema.
export { buildPaymentsService, PAYMENTS_MIGRATIONS_DIR } from "./app.ts";
export type { PaymentsDependencies, PaymentsService } from "./app.ts";
export { paymentsConfigSchema } from "./config.ts";
export type { PaymentsConfig } from "./config.ts";
