// @boxoffice/inventory: the public API is the build function and its config schema.
export { buildInventoryService, INVENTORY_MIGRATIONS_DIR } from "./app.ts";
export type { InventoryDependencies, InventoryService } from "./app.ts";
export { inventoryConfigSchema } from "./config.ts";
export type { InventoryConfig } from "./config.ts";
