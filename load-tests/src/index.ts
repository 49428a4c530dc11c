// @boxoffice/load-tests: the load harness the project runs itself (k6 scenarios live in ../k6).
export { answerKind, runOnSale } from "./on-sale.ts";
export type { BuyerOutcome, OnSaleOptions, OnSaleReport } from "./on-sale.ts";
export {
  CLOCK_TICKS_PER_SECOND,
  commandLineOf,
  costTable,
  costTableMarkdown,
  ownCpuMs,
  parseProcStat,
  readProcessTable,
  statementCell,
  statementsMarkdown,
  statementsPerOrder,
  treeCpuMs,
} from "./checkout-cost.ts";
export type { CostRow, CostTable, ProcStat, StatementRow, StatementStat } from "./checkout-cost.ts";
