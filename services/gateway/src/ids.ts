// Ids are 64-bit integers printed in decimal (see @boxoffice/contracts idSchema). A path id that
// cannot be one names nothing: 404 at once, without a bus call, whatever a service would make of it.
import { GatewayError } from "./errors.ts";

const MAX_ID = 2n ** 63n - 1n;

export function isWellFormedId(id: string): boolean {
  return /^[0-9]{1,19}$/.test(id) && BigInt(id) <= MAX_ID;
}

export function requireWellFormedId(id: string, what: string): string {
  if (!isWellFormedId(id)) throw new GatewayError("NOT_FOUND", `no such ${what}`, { details: { id } });
  return id;
}
