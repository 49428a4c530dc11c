// A server span per HTTP request (OpenTelemetry), made current for the route's handler so that its
// bus calls (and through them inventory, payments, their SQL and the firehose) join one trace.
// Added only when the process traces (startTracing registered a provider): off, it costs nothing.
// The gateway is the edge: an incoming `traceparent` from the internet is not trusted, every
// request starts a trace of its own.
import { context as otelContext, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from "@opentelemetry/api";
import type { FastifyInstance, FastifyRequest } from "fastify";

const tracer = trace.getTracer("@boxoffice/gateway");
const SERVER = { kind: SpanKind.SERVER };

export function traceHttpRequests(app: FastifyInstance): void {
  const traced = new WeakMap<FastifyRequest, { span: Span; context: Context }>();

  app.addHook("onRequest", (request, _reply, done) => {
    const route = request.routeOptions.url;
    const span = tracer.startSpan(route ? `${request.method} ${route}` : request.method, SERVER, ROOT_CONTEXT);
    span.setAttributes({
      "http.request.method": request.method,
      "http.route": route ?? "unmatched",
      "url.path": request.url.split("?")[0],
    });
    const context = trace.setSpan(ROOT_CONTEXT, span);
    traced.set(request, { span, context });
    otelContext.with(context, done);
  });
  // The body was read on socket events, outside the request's context: enter it again for the handler.
  app.addHook("preHandler", (request, _reply, done) => {
    const entry = traced.get(request);
    if (entry) otelContext.with(entry.context, done);
    else done();
  });
  app.addHook("onResponse", (request, reply, done) => {
    const entry = traced.get(request);
    if (entry) {
      entry.span.setAttribute("http.response.status_code", reply.statusCode);
      if (reply.statusCode >= 500) entry.span.setStatus({ code: SpanStatusCode.ERROR });
      entry.span.end();
      traced.delete(request);
    }
    done();
  });
  app.addHook("onRequestAbort", (request, done) => {
    const entry = traced.get(request);
    if (entry) {
      entry.span.setStatus({ code: SpanStatusCode.ERROR, message: "the client went away" });
      entry.span.end();
      traced.delete(request);
    }
    done();
  });
}
