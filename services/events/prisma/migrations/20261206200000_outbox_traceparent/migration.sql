-- The W3C trace context of the change that wrote an outbox row (NULL when not traced): the relay's
-- firehose publish and the consumers of the event join that trace (OpenTelemetry).
ALTER TABLE catalogue_outbox ADD COLUMN "traceparent" TEXT;
