// OpenTelemetry on the running embedded platform: with an in-memory exporter registered the way
// OTEL_EXPORTER_OTLP_ENDPOINT registers the OTLP one (startTracing), one purchase — sign in, hold,
// order — is one trace from the gateway's HTTP span through inventory and payments (their RPC
// spans and SQL statements) to the outbox relay's firehose publish and inventory's consumer.
import { randomUUID } from "node:crypto";
import { startTracing, type Tracing } from "@boxoffice/runtime";
import { waitFor } from "@boxoffice/testkit";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_BUYER } from "../src/demo-data.ts";
import { Client } from "./http-client.ts";
import { smallEvent, startPlatformFixture, type PlatformFixture } from "./platform-fixture.ts";

const CARD = { cardNumber: "4242424242424242", expMonth: 12, expYear: 2030, cvc: "123" };
const exporter = new InMemorySpanExporter();
let tracing: Tracing | undefined;
let fixture: PlatformFixture;

beforeAll(async () => {
  // Before the platform starts, as a service's main does: the gateway adds its HTTP spans only then.
  tracing = startTracing({ service: "boxoffice", exporter });
  fixture = await startPlatformFixture({ events: [smallEvent("Traced Trio", 12)] });
}, 120_000);
afterAll(async () => {
  await fixture?.close();
  await tracing?.stop();
});

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const describeSpan = (span: ReadableSpan) => `${SpanKind[span.kind]} ${span.name}`;

describe("tracing a purchase on the embedded platform", () => {
  it("when a buyer signs in, holds a seat and orders it, the order is one trace: gateway → inventory → payments, the outbox publish and the firehose consumer", async () => {
    const eventId = await fixture.eventId("Traced Trio");
    const buyer = new Client(fixture.url);
    await buyer.signIn(DEMO_BUYER.email, DEMO_BUYER.password);
    const hold = await buyer.request("POST", `/api/events/${eventId}/holds`, { quantity: 1 });
    expect(hold.status, JSON.stringify(hold.body)).toBe(201);
    const holdId = (hold.body.hold as { id: string }).id;
    const order = await buyer.request("POST", "/api/orders", { holdId, payment: CARD }, { "idempotency-key": randomUUID() });
    expect(order.status, JSON.stringify(order.body)).toBe(201);

    const http = await waitFor(() => exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER && s.name === "POST /api/orders"), {
      what: "the gateway's span of POST /api/orders",
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    expect(parentOf(http), "the gateway's request span starts the trace").toBeUndefined();
    const traceId = http.spanContext().traceId;
    const inTrace = () => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    // The relay publishes after the order's transaction commits, and inventory consumes after that.
    const consumed = await waitFor(() => inTrace().find((s) => s.kind === SpanKind.CONSUMER && s.name === "process payments"), {
      what: "inventory's firehose consumer span of payment.captured.v1 in the order's trace",
      timeoutMs: 15_000,
      intervalMs: 100,
    });
    const spans = inTrace();
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const find = (kind: SpanKind, name: string) => {
      const span = spans.find((s) => s.kind === kind && s.name === name);
      expect(span, `${SpanKind[kind]} span "${name}" in the trace; it has: ${spans.map(describeSpan).join(", ")}`).toBeDefined();
      return span as ReadableSpan;
    };

    // gateway → inventory.order.v1 (client and server), inventory → payments.charge.v1 (client and server).
    const orderClient = find(SpanKind.CLIENT, "inventory.order.v1");
    const orderServer = find(SpanKind.SERVER, "inventory.order.v1");
    const chargeClient = find(SpanKind.CLIENT, "payments.charge.v1");
    const chargeServer = find(SpanKind.SERVER, "payments.charge.v1");
    expect(parentOf(orderClient)).toBe(http.spanContext().spanId);
    expect(parentOf(orderServer)).toBe(orderClient.spanContext().spanId);
    expect(parentOf(chargeClient)).toBe(orderServer.spanContext().spanId);
    expect(parentOf(chargeServer)).toBe(chargeClient.spanContext().spanId);
    expect(orderServer.attributes["rpc.service"]).toBe("inventory");
    expect(chargeServer.attributes["rpc.service"]).toBe("payments");

    // SQL statements of both services hang under their handlers; payments' outbox row is one of them.
    const sqlUnder = (server: ReadableSpan) => spans.filter((s) => s.attributes["db.system.name"] === "postgresql" && parentOf(s) === server.spanContext().spanId);
    expect(sqlUnder(orderServer).length, "inventory's SQL under inventory.order.v1").toBeGreaterThan(0);
    expect(sqlUnder(chargeServer).some((s) => String(s.attributes["db.query.text"]).includes("INSERT INTO payments.outbox")), "the outbox insert under payments.charge.v1").toBe(true);

    // The relay publishes the row in the charge's trace (the row carried its traceparent), and
    // inventory's checkout-recovery consumer handles the event as the publish's child.
    const publish = find(SpanKind.PRODUCER, "publish payments");
    expect(parentOf(publish)).toBe(chargeServer.spanContext().spanId);
    expect(publish.attributes["boxoffice.event.type"]).toBe("payment.captured.v1");
    expect(parentOf(consumed)).toBe(publish.spanContext().spanId);
    expect(consumed.attributes["boxoffice.event.type"]).toBe("payment.captured.v1");
    expect(consumed.attributes["messaging.consumer.group.name"]).toBeTruthy();

    // One trace: every span's parent is in it, except the gateway's root.
    for (const span of spans) {
      if (span === http) continue;
      expect(byId.has(parentOf(span) ?? ""), `parent of ${describeSpan(span)} in the trace`).toBe(true);
    }
  });

  it("when the buyer held and then ordered, each HTTP request started a trace of its own", () => {
    const holds = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER && /^POST \/api\/events\/:\w+\/holds$/.test(s.name));
    const orders = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER && s.name === "POST /api/orders");
    expect(holds.length).toBeGreaterThan(0);
    expect(new Set([...holds, ...orders].map((s) => s.spanContext().traceId)).size).toBe(holds.length + orders.length);
  });
});
