// @boxoffice/contracts: zod schemas of every RPC method and firehose event, one file per service.
// Services and the gateway import contracts only from here.
export {
  cursorSchema,
  DEFAULT_PAGE_LIMIT,
  defineFirehoseEvent,
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
export type { ErrorCode, FirehoseEventDef, HealthResponse, PageRequest, Role } from "./common.ts";
export {
  displayNameSchema,
  passwordSchema,
  publicJwkSchema,
  userSchema,
  usersHealthV1,
  usersKeysV1,
  usersLoginV1,
  usersMethods,
  usersProfileV1,
  usersRefreshV1,
  usersRegisterV1,
  usersRevokeV1,
} from "./users.ts";
export type { PublicJwk, User } from "./users.ts";
export {
  eventSchema,
  eventsCancelV1,
  eventsCreateV1,
  eventsGetV1,
  eventsHealthV1,
  eventsListV1,
  eventsMethods,
  eventStatusSchema,
  EVENTS_STREAM,
  eventsUpdateV1,
  eventUpdatedV1,
  MAX_SEATS_PER_EVENT,
  sectionInputSchema,
  sectionSchema,
} from "./events.ts";
export type { CatalogueEvent, EventStatus, Section, SectionInput } from "./events.ts";
export { httpCreateEventBodySchema, httpErrorBodySchema, httpEventIdParamsSchema, httpEventListQuerySchema, httpEventListResponseSchema, httpEventResponseSchema, httpEventSchema, httpEventSummarySchema, httpHoldBodySchema, httpHoldIdParamsSchema, httpHoldResponseSchema, httpIdempotencyHeadersSchema, httpLiveMessageSchema, httpLiveQuerySchema, saleMessageSchema, httpOrderBodySchema, httpOrderIdParamsSchema, httpOrderResponseSchema, httpOpsOverviewResponseSchema, httpOpsOverviewSchema, httpOrdersResponseSchema, httpQueuePatchBodySchema, httpQueueResponseSchema, httpQueueSchema, httpQueueStatsResponseSchema, httpQueueStatsSchema, httpSeatsQuerySchema, httpSeatsResponseSchema, httpSectionSchema, httpSignInBodySchema, httpSignUpBodySchema, httpUserResponseSchema } from "./gateway.ts";
export type { SaleMessage } from "./gateway.ts";
export type { HttpCreateEventBody, HttpEvent, HttpEventSummary, HttpHoldBody, HttpOpsOverview, HttpOrderBody, HttpQueue, HttpQueuePatchBody, HttpQueueStats } from "./gateway.ts";
export * from "./inventory.ts";
export * from "./payments.ts";
