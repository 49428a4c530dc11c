// The events service's environment, one zod schema (manifests are checked against it).
import { commonConfigShape } from "@boxoffice/runtime";
import { z } from "zod";

export const eventsConfigSchema = z.object({
  ...commonConfigShape,
  /** Milliseconds between outbox polls when no local write nudged the relay. Default 250. */
  EVENTS_OUTBOX_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(250),
  /** Outbox rows claimed per shard per transaction. Default 100. */
  EVENTS_OUTBOX_BATCH: z.coerce.number().int().min(1).max(10_000).default(100),
  /** Audience of the identity tokens this service accepts. Default "boxoffice". */
  IDENTITY_AUDIENCE: z.string().min(1).default("boxoffice"),
});

export type EventsConfig = z.infer<typeof eventsConfigSchema>;
