// @boxoffice/contracts: zod schemas of every RPC method and firehose event, one file per service.
// Services and the gateway import contracts only from here.
export {
  cursorSchema,
  DEFAULT_PAGE_LIMIT,
  emailSchema,
  emptyRequestSchema,
  ERROR_CODE_INFO,
  ErrorCodes,
  healthResponseSchema,
  idSchema,
  isoDateTimeSchema,
  MAX_PAGE_LIMIT,
  moneyCentsSchema,
  pageRequestSchema,
  pageResponseSchema,
  roleSchema,
} from "./common.ts";
export type { ErrorCode, HealthResponse, PageRequest, Role } from "./common.ts";
export * from "./inventory.ts";
export * from "./payments.ts";
