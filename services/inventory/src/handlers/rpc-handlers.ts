// Thin bus entry points: who is calling, then the use case.
import type { RpcServer } from "@boxoffice/bus";
import {
  inventoryAvailabilitiesV1,
  inventoryAvailabilityV1,
  inventoryGetOrderV1,
  inventoryHealthV1,
  inventoryHoldV1,
  inventoryOrdersV1,
  inventoryOrderV1,
  inventoryReleaseV1,
  inventorySeatsV1,
  inventorySettleV1,
} from "@boxoffice/contracts";
import type { AdmissionKeys, TokenVerifier } from "@boxoffice/identity";
import { getBuyerOrder, listBuyerOrders, placeOrder, settleCapturedPayment } from "../domain/checkout.ts";
import { availabilitiesOf, availabilityOf, placeHold, releaseHold, seatMapPageOf } from "../domain/holds.ts";
import type { InventoryDeps } from "../domain/ports.ts";
import { InventoryErrorCodes, inventoryError } from "../errors.ts";

export interface InventoryHandlerDeps {
  domain: InventoryDeps;
  verifier: Pick<TokenVerifier, "requireUser">;
  /** The waiting room's admission keys; when given, every hold needs a valid admission. */
  admissions?: Pick<AdmissionKeys, "verify">;
}

export function registerInventoryHandlers(server: RpcServer, deps: InventoryHandlerDeps): void {
  const { domain, verifier, admissions } = deps;

  server.handle(inventoryHoldV1, async (input, ctx) => {
    const user = await verifier.requireUser(ctx);
    const { admission, ...hold } = input;
    if (admissions) {
      // Checked here, where the seats are, with no round trip: the room signed it for this buyer and event.
      const verdict = admissions.verify(admission, { userId: user.userId, eventId: input.eventId });
      if (!verdict.ok) {
        throw inventoryError(InventoryErrorCodes.NOT_ADMITTED, "others are waiting for this event: join its waiting room", {
          queuePath: `/api/events/${input.eventId}/queue`,
          reason: verdict.reason,
        });
      }
    }
    return { hold: await placeHold({ buyerId: user.userId, ...hold }, domain) };
  });

  server.handle(inventoryReleaseV1, async (input, ctx) => {
    const user = await verifier.requireUser(ctx);
    await releaseHold({ buyerId: user.userId, holdId: input.holdId }, domain);
    return { released: true as const };
  });

  server.handle(inventoryAvailabilityV1, (input) => availabilityOf(input.eventId, domain));

  server.handle(inventoryAvailabilitiesV1, async (input) => ({ events: await availabilitiesOf(input.eventIds, domain) }));

  server.handle(inventorySeatsV1, (input) => seatMapPageOf(input, domain));

  server.handle(inventoryOrderV1, async (input, ctx) => {
    const user = await verifier.requireUser(ctx);
    return { order: await placeOrder({ buyerId: user.userId, ...input }, ctx, domain) };
  });

  server.handle(inventoryOrdersV1, async (input, ctx) => {
    const user = await verifier.requireUser(ctx);
    return listBuyerOrders({ buyerId: user.userId, limit: input.limit, cursor: input.cursor }, domain);
  });

  server.handle(inventoryGetOrderV1, async (input, ctx) => {
    const user = await verifier.requireUser(ctx);
    return { order: await getBuyerOrder({ buyerId: user.userId, orderId: input.orderId }, domain) };
  });

  // Payments' reconciler: a captured payment with no decided outcome, read from payments' own database.
  server.handle(inventorySettleV1, async (input) => {
    const result = await settleCapturedPayment(input, domain);
    if (result.kind === "confirmed") return { outcome: "confirmed" as const, orderId: result.orderId };
    if (result.kind === "refunded") return { outcome: "refunded" as const, orderId: result.orderId };
    return { outcome: "unknown-hold" as const, orderId: null };
  });

  server.handle(inventoryHealthV1, async () => {
    const shards = await Promise.all(
      domain.shards.all().map(async (sql) => {
        try {
          await sql.query("SELECT 1");
          return { shard: sql.shard, ok: true };
        } catch (error) {
          return { shard: sql.shard, ok: false, error: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
    return { service: "inventory", ok: shards.every((s) => s.ok), bus: true, shards };
  });
}
