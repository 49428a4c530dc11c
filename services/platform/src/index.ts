// @boxoffice/platform: the composition roots. The embedded one runs everything in one process.
export { startEmbeddedPlatform } from "./embedded.ts";
export type { EmbeddedPlatform } from "./embedded.ts";
export { loadPlatformConfig, platformConfigSchema } from "./config.ts";
export type { PlatformConfig } from "./config.ts";
export { DEMO_BUYER, DEMO_EVENTS, DEMO_OPERATOR, DEMO_ORGANIZER, HOT_EVENT_TITLE, seedDemoData } from "./demo-data.ts";
export type { DemoEvent } from "./demo-data.ts";
