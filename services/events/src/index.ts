// @boxoffice/events: the catalogue. Public API: the build function (for the embedded host) and the
// config schema (manifests are checked against it).
export { buildEventsService } from "./app.ts";
export type { EventsDeps, EventsService } from "./app.ts";
export { eventsConfigSchema } from "./config.ts";
export type { EventsConfig } from "./config.ts";
