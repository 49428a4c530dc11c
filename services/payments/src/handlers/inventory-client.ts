// Inventory as payments' reconciler sees it: inventory.settle.v1 over the bus, waiting for channel
// capacity (a settlement is money: it is not shed because a channel was momentarily full).
import type { RpcClient } from "@boxoffice/bus";
import { inventorySettleV1 } from "@boxoffice/contracts";
import type { SettlementPort } from "../domain/reconciler.ts";

export function createInventorySettlementClient(rpc: RpcClient, deadlineMs: number): SettlementPort {
  return {
    settle: (input) => rpc.call(inventorySettleV1, input, { waitForCapacity: true, deadlineMs }),
  };
}
