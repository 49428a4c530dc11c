// Buying: hold seats, release a hold, place an order (pay + confirm, idempotent by key), and the
// buyer's orders. The services enforce the rules; these routes check the session and shapes.
import type { FastifyInstance, FastifyReply } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  httpEventIdParamsSchema,
  httpHoldBodySchema,
  httpHoldIdParamsSchema,
  httpHoldResponseSchema,
  httpErrorBodySchema,
  httpIdempotencyHeadersSchema,
  httpOrderBodySchema,
  httpOrderIdParamsSchema,
  httpOrderResponseSchema,
  httpOrdersResponseSchema,
  type Order,
  type SaleMessage,
} from "@boxoffice/contracts";
import type { GatewayContext } from "../app.ts";
import { RpcError } from "@boxoffice/bus";
import { requireWellFormedId } from "../ids.ts";
import { authenticatedCaller } from "../session.ts";

export function registerBuyingRoutes(parent: FastifyInstance, context: GatewayContext): void {
  const app = parent.withTypeProvider<ZodTypeProvider>();
  const { backend, cache } = context;

  app.post("/events/:eventId/holds", {
    schema: {
      tags: ["buying"],
      summary: "Hold seats: a quantity (best available) or chosen seat ids, 1 to 8",
      params: httpEventIdParamsSchema,
      body: httpHoldBodySchema,
      response: { 201: httpHoldResponseSchema, 400: httpErrorBodySchema, 401: httpErrorBodySchema, 404: httpErrorBodySchema, 409: httpErrorBodySchema },
    },
  }, async (request, reply) => {
    const caller = await authenticatedCaller(request, backend, context.config.SESSION_TTL_SECONDS);
    const eventId = requireWellFormedId(request.params.eventId, "event");
    // Admitted by the room (or on the spot while nobody waits); inventory checks the signature.
    const admission = await context.room.admissionForHold(eventId, caller.user.id);
    const hold = await measuredCheckout(context, "hold", reply, () => backend.hold(eventId, request.body, { token: caller.token, admission }));
    cache.changed(`event:${eventId}`);
    return reply.status(201).send({ hold });
  });

  app.delete("/holds/:holdId", {
    schema: {
      tags: ["buying"],
      summary: "Release a hold; its seats are available again",
      params: httpHoldIdParamsSchema,
      response: { 204: z.null().describe("released"), 404: httpErrorBodySchema },
    },
  }, async (request, reply) => {
    const caller = await authenticatedCaller(request, backend, context.config.SESSION_TTL_SECONDS);
    await backend.releaseHold(request.params.holdId, { token: caller.token });
    return reply.status(204).send(null);
  });

  app.post("/orders", {
    schema: {
      tags: ["buying"],
      summary: "Pay for a hold and receive tickets; replaying the same Idempotency-Key never charges twice",
      headers: httpIdempotencyHeadersSchema,
      body: httpOrderBodySchema,
      response: {
        201: httpOrderResponseSchema,
        400: httpErrorBodySchema,
        401: httpErrorBodySchema,
        402: httpErrorBodySchema,
        409: httpErrorBodySchema,
      },
    },
  }, async (request, reply) => {
    const caller = await authenticatedCaller(request, backend, context.config.SESSION_TTL_SECONDS);
    const order = await measuredCheckout(context, "order", reply, async () => {
      const placed = await backend.placeOrder(
        { ...request.body, payment: { ...request.body.payment, cardNumber: request.body.payment.cardNumber.replace(/ /g, "") }, idempotencyKey: request.headers["idempotency-key"] },
        { token: caller.token },
      );
      // A confirmed order ends the admission: its place goes to the next buyer in line.
      await context.room.finish(placed.eventId, caller.user.id);
      return placed;
    });
    cache.changed(`event:${order.eventId}`);
    // Not awaited: the buyer's answer does not wait for the organiser's view (announceSale logs its own failures).
    if (order.status === "confirmed") context.live.announceSale(saleOf(order)).catch(() => {});
    return reply.status(201).send({ order });
  });

  app.get("/orders", {
    schema: { tags: ["buying"], summary: "The signed-in buyer's orders, newest first", response: { 200: httpOrdersResponseSchema, 401: httpErrorBodySchema } },
  }, async (request) => {
    const caller = await authenticatedCaller(request, backend, context.config.SESSION_TTL_SECONDS);
    return { orders: await backend.listOrders({ token: caller.token }) };
  });

  app.get("/orders/:orderId", {
    schema: {
      tags: ["buying"],
      summary: "One of the signed-in buyer's orders",
      params: httpOrderIdParamsSchema,
      response: { 200: httpOrderResponseSchema, 401: httpErrorBodySchema, 404: httpErrorBodySchema },
    },
  }, async (request) => {
    const caller = await authenticatedCaller(request, backend, context.config.SESSION_TTL_SECONDS);
    return { order: await backend.getOrder(request.params.orderId, { token: caller.token }) };
  });
}

const OVERLOAD_CODES = new Set(["BUSY", "UNAVAILABLE", "DEADLINE_EXCEEDED"]);

/**
 * Checkout calls feed the room's admission rate: their latency, and whether they were shed. The
 * latency is the request's, from the moment this gateway began routing it (`reply.elapsedTime`),
 * not the bus call's alone: the buyer waits for the session check, the room's admission check and
 * the room's release too, and for requests queued ahead in this process. Timing the call alone let
 * the controller hold a window "under target" while the purchases buyers saw took longer.
 */
async function measuredCheckout<T>(context: GatewayContext, call: "hold" | "order", reply: FastifyReply, work: () => Promise<T>): Promise<T> {
  try {
    const result = await work();
    context.admissionRate.observe(reply.elapsedTime, false, call);
    return result;
  } catch (error) {
    const overloaded = error instanceof RpcError && OVERLOAD_CODES.has(error.code);
    context.admissionRate.observe(reply.elapsedTime, overloaded, call);
    throw error;
  }
}

/** What the organiser's live view learns of an order: counts and money, no buyer. */
function saleOf(order: Order): SaleMessage {
  const perSection = new Map<string, number>();
  for (const ticket of order.tickets) perSection.set(ticket.section, (perSection.get(ticket.section) ?? 0) + 1);
  return {
    type: "sale",
    eventId: order.eventId,
    orderId: order.id,
    at: order.createdAt,
    tickets: order.tickets.length,
    totalCents: order.totalCents,
    sections: [...perSection].map(([section, tickets]) => ({ section, tickets })),
  };
}
