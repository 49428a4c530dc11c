// Thin bus entry points: the contract validated the input already; each handler checks who is
// calling (when it matters) and calls one use case.
import type { RpcContext, RpcServer } from "@boxoffice/bus";
import { eventsCancelV1, eventsCreateV1, eventsGetV1, eventsHealthV1, eventsListV1, eventsUpdateV1 } from "@boxoffice/contracts";
import type { TokenVerifier } from "@boxoffice/identity";
import { withTrace, type Logger } from "@boxoffice/runtime";
import { withRequestContext } from "@boxoffice/sharding";
import { cancelEvent, createEvent, getEvent, listEvents, updateEvent, type CatalogueDeps } from "../domain/catalogue.ts";
import type { ShardSql } from "../store/events-store.ts";

export interface EventsHandlerDeps extends CatalogueDeps {
  verifier: TokenVerifier;
  logger: Logger;
  shards(): ShardSql[];
}

export function registerEventsHandlers(server: RpcServer, deps: EventsHandlerDeps): void {
  // Reads of a signed-in caller who just wrote stay on primaries (read-your-writes): the router
  // remembers writes per user id. Anonymous reads may go to replicas (the catalogue may be stale).
  const asCaller = async <T>(ctx: RpcContext, fn: () => Promise<T>): Promise<T> => {
    const caller = ctx.token ? await deps.verifier.verify(ctx.token).catch(() => undefined) : undefined;
    return withRequestContext({ userId: caller?.userId }, fn);
  };

  server.handle(eventsCreateV1, async (input, ctx) => {
    const organizer = await deps.verifier.requireRole(ctx, "organizer");
    const event = await withRequestContext({ userId: organizer.userId }, () => createEvent(input, organizer, deps));
    withTrace(deps.logger, ctx.traceId).info({ eventId: event.id, seats: event.capacity }, "event created");
    return { event };
  });

  server.handle(eventsUpdateV1, async (input, ctx) => {
    const organizer = await deps.verifier.requireRole(ctx, "organizer");
    return { event: await withRequestContext({ userId: organizer.userId }, () => updateEvent(input, organizer, deps)) };
  });

  server.handle(eventsCancelV1, async (input, ctx) => {
    const organizer = await deps.verifier.requireRole(ctx, "organizer");
    const event = await withRequestContext({ userId: organizer.userId }, () => cancelEvent(input, organizer, deps));
    withTrace(deps.logger, ctx.traceId).info({ eventId: event.id }, "event cancelled");
    return { event };
  });

  server.handle(eventsListV1, async (input, ctx) => asCaller(ctx, () => listEvents(input, deps)));

  server.handle(eventsGetV1, async (input, ctx) => asCaller(ctx, async () => ({ event: await getEvent(input, deps) })));

  server.handle(eventsHealthV1, async () => {
    const shards = await deps.store.checkShards();
    // We are answering over the bus, so the bus works.
    return { service: "events", ok: shards.every((s) => s.ok), bus: true, shards };
  });
}
