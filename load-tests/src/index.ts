// @boxoffice/load-tests: the load harness the project runs itself (k6 scenarios live in ../k6).
export { answerKind, runOnSale } from "./on-sale.ts";
export type { BuyerOutcome, OnSaleOptions, OnSaleReport } from "./on-sale.ts";
