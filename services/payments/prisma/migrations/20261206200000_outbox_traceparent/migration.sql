-- The W3C trace context of the transaction that wrote an outbox row (NULL when not traced): the
-- relay's firehose publish and the consumers of the event join that trace (OpenTelemetry).
ALTER TABLE payments.outbox ADD COLUMN "traceparent" TEXT;
