// The events service's error codes (from the shared map in @boxoffice/contracts) and their constructors.
import { RpcError } from "@boxoffice/bus";
import { ErrorCodes } from "@boxoffice/contracts";

export const EventsErrorCodes = {
  NOT_FOUND: ErrorCodes.NOT_FOUND,
  FORBIDDEN: ErrorCodes.FORBIDDEN,
  EVENT_NOT_EDITABLE: ErrorCodes.EVENT_NOT_EDITABLE,
  VALIDATION_FAILED: ErrorCodes.VALIDATION_FAILED,
} as const;

export const eventNotFound = (eventId: string) => new RpcError(EventsErrorCodes.NOT_FOUND, "no such event", { details: { eventId } });
export const notTheOrganizer = () => new RpcError(EventsErrorCodes.FORBIDDEN, "only the event's organiser may change it");
export const notEditable = (reason: string) => new RpcError(EventsErrorCodes.EVENT_NOT_EDITABLE, reason);
/** Same shape as the bus's contract failures: the offending fields under details.fields. */
export const invalidField = (path: string, message: string) =>
  new RpcError(EventsErrorCodes.VALIDATION_FAILED, `${path}: ${message}`, { details: { fields: [{ path, message }] } });
