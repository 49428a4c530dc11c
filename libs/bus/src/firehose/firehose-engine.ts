// The firehose semantics, written once over a storage backend: validation, broadcast reads from a
// position, consumer groups with acknowledgement, redelivery after a visibility timeout,
// dead-lettering after maxAttempts, and per-key order inside a batch.
import { randomUUID } from "node:crypto";
import { context as otelContext } from "@opentelemetry/api";
import { busTracer, contextWithTraceparent, inSpan, recordFailure, SPAN_OPTIONS, traceparentOf, tracingOn } from "../tracing/spans.ts";
import { FirehoseInputError } from "./errors.ts";
import type { FirehoseBackend, StoredEntry, StreamReader } from "./firehose-backend.ts";
import {
  DEFAULT_CONSUME_OPTIONS,
  type ConsumeOptions,
  type Consumer,
  type Delivery,
  type EventHandler,
  type Firehose,
  type FirehoseEvent,
  type PublishInput,
  type SubscribeOptions,
  type Subscription,
} from "./types.ts";

const NAME = /^[A-Za-z0-9_.-]{1,99}$/;
const SUBSCRIBE_BATCH = 100;
const MAX_BLOCK_MS = 1000;
const MAX_BACKOFF_MS = 2000;

function checkName(field: string, value: unknown): string {
  if (typeof value !== "string" || !NAME.test(value)) {
    throw new FirehoseInputError(field, `expected 1–99 of [A-Za-z0-9_.-], got ${JSON.stringify(value)}`);
  }
  return value;
}

function checkPositiveInteger(field: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new FirehoseInputError(field, `expected a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function buildEvent<T>(input: PublishInput<T>): FirehoseEvent<T> {
  if (typeof input !== "object" || input === null) throw new FirehoseInputError("event", "expected an object");
  if (typeof input.type !== "string" || input.type.length === 0) throw new FirehoseInputError("type", "expected a non-empty string");
  checkPositiveInteger("version", input.version);
  if (typeof input.key !== "string") throw new FirehoseInputError("key", "expected a string");
  if (input.id !== undefined && (typeof input.id !== "string" || input.id.length === 0)) throw new FirehoseInputError("id", "expected a non-empty string");
  if (input.occurredAt !== undefined && (typeof input.occurredAt !== "string" || Number.isNaN(Date.parse(input.occurredAt)))) {
    throw new FirehoseInputError("occurredAt", "expected an ISO 8601 date string");
  }
  if (input.traceparent !== undefined && typeof input.traceparent !== "string") throw new FirehoseInputError("traceparent", "expected a W3C traceparent string");
  const event: FirehoseEvent<T> = {
    id: input.id ?? randomUUID(),
    type: input.type,
    version: input.version,
    occurredAt: input.occurredAt ?? new Date().toISOString(),
    key: input.key,
    data: input.data,
  };
  if (input.traceparent) event.traceparent = input.traceparent;
  return event;
}

function backoff(attempt: number): Promise<void> {
  const ms = Math.min(MAX_BACKOFF_MS, 50 * 2 ** attempt) * (0.5 + Math.random() / 2);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function reportTo(onError: ((error: unknown, event?: FirehoseEvent) => void) | undefined, label: string) {
  return (error: unknown, event?: FirehoseEvent) => {
    if (onError) onError(error, event);
    else console.error(`[firehose] ${label}:`, error instanceof Error ? error.message : error);
  };
}

/** Runs `step` until it succeeds or `stopped()`; the backend may be down for a while. */
async function retrying<T>(step: () => Promise<T>, stopped: () => boolean, report: (error: unknown) => void): Promise<T | undefined> {
  for (let attempt = 0; !stopped(); attempt++) {
    try {
      return await step();
    } catch (error) {
      if (stopped()) return undefined;
      report(error);
      await backoff(attempt);
    }
  }
  return undefined;
}

export function createFirehoseOver(backend: FirehoseBackend): Firehose {
  const closers = new Set<() => Promise<void>>();

  function subscribe<T>(stream: string, options: SubscribeOptions, handler: EventHandler<T>): Subscription {
    checkName("stream", stream);
    const from = options?.from ?? "latest";
    if (from !== "latest" && from !== "earliest" && (typeof from !== "string" || !backend.isPosition(from))) {
      throw new FirehoseInputError("from", `expected "latest", "earliest" or a position returned earlier, got ${JSON.stringify(from)}`);
    }
    if (typeof handler !== "function") throw new FirehoseInputError("handler", "expected a function");
    const report = reportTo(options?.onError, `subscriber on ${stream}`);
    let closed = false;
    let position: string | undefined;
    const reader: StreamReader = backend.openReader();
    const stopped = () => closed;

    const ready = (async () => {
      if (from === "earliest") return backend.earliestPosition;
      if (from === "latest") return (await retrying(() => backend.lastPosition(stream), stopped, report)) ?? backend.earliestPosition;
      return from;
    })();

    const loop = (async () => {
      let cursor = await ready;
      for (let failures = 0; !closed; ) {
        let entries: StoredEntry[];
        try {
          entries = await reader.read(stream, cursor, SUBSCRIBE_BATCH, MAX_BLOCK_MS);
          failures = 0;
        } catch (error) {
          if (closed) break;
          report(error);
          await backoff(failures++);
          continue;
        }
        for (const entry of entries) {
          if (closed) break;
          try {
            await handleTraced(stream, undefined, entry, handler);
          } catch (error) {
            report(error, entry.event);
          }
          cursor = entry.position;
          position = entry.position;
        }
      }
    })();

    const close = async () => {
      if (closed) return;
      closed = true;
      closers.delete(close);
      reader.close();
      await loop;
    };
    closers.add(close);
    return {
      ready: ready.then(() => undefined),
      get position() {
        return position;
      },
      close,
    };
  }

  function consume<T>(stream: string, options: ConsumeOptions, handler: EventHandler<T>): Consumer {
    checkName("stream", stream);
    if (typeof options !== "object" || options === null) throw new FirehoseInputError("options", "expected an object");
    const group = checkName("group", options.group);
    const consumer = checkName("consumer", options.consumer);
    const visibilityTimeoutMs = checkPositiveInteger("visibilityTimeoutMs", options.visibilityTimeoutMs ?? DEFAULT_CONSUME_OPTIONS.visibilityTimeoutMs);
    const maxAttempts = checkPositiveInteger("maxAttempts", options.maxAttempts ?? DEFAULT_CONSUME_OPTIONS.maxAttempts);
    const batchSize = checkPositiveInteger("batchSize", options.batchSize ?? DEFAULT_CONSUME_OPTIONS.batchSize);
    if (typeof handler !== "function") throw new FirehoseInputError("handler", "expected a function");
    const report = reportTo(options.onError, `consumer ${group}/${consumer} on ${stream}`);
    const blockMs = Math.max(1, Math.min(MAX_BLOCK_MS, Math.floor(visibilityTimeoutMs / 2)));
    let closed = false;
    const stopped = () => closed;
    const reader = backend.openReader();

    const ready = retrying(() => backend.ensureGroup(stream, group), stopped, report);

    // Handled → acknowledged (with the rest of its batch); dead-lettered → acknowledged at once.
    // Thrown → left pending, so the visibility timeout brings it back (to whichever consumer claims
    // it first), until maxAttempts.
    async function handleOne(entry: StoredEntry, handled: string[]): Promise<void> {
      if (closed) return;
      try {
        await handleTraced(stream, group, entry, handler);
      } catch (error) {
        if (closed) return;
        report(error, entry.event);
        if (entry.attempt >= maxAttempts) {
          await backend.deadLetter(stream, group, entry, `handler failed on attempt ${entry.attempt}: ${error instanceof Error ? error.message : String(error)}`);
        }
        return;
      }
      handled.push(entry.position);
    }

    // Same-key events run one after another in stream order; different keys run side by side.
    // One XACK per batch: a crash mid-batch redelivers handled events too, which at-least-once allows.
    async function handleBatch(entries: StoredEntry[]): Promise<void> {
      const handled: string[] = [];
      const byKey = new Map<string, StoredEntry[]>();
      for (const entry of entries) {
        if (entry.attempt > maxAttempts) {
          await backend.deadLetter(stream, group, entry, `not acknowledged after ${maxAttempts} deliveries`);
          continue;
        }
        const list = byKey.get(entry.event.key);
        if (list) list.push(entry);
        else byKey.set(entry.event.key, [entry]);
      }
      await Promise.all(
        [...byKey.values()].map(async (list) => {
          for (const entry of list) {
            try {
              await handleOne(entry, handled);
            } catch (error) {
              if (!closed) report(error, entry.event);
            }
          }
        }),
      );
      if (handled.length && !closed) await backend.ack(stream, group, handled);
    }

    const loop = (async () => {
      await ready;
      let nextClaimAt = 0;
      for (let failures = 0; !closed; ) {
        try {
          let batch: StoredEntry[] = [];
          if (Date.now() >= nextClaimAt) {
            batch = await backend.claimIdle(stream, group, consumer, visibilityTimeoutMs, batchSize);
            if (batch.length === 0) nextClaimAt = Date.now() + blockMs;
          }
          if (batch.length === 0 && !closed) batch = await reader.readGroup(stream, group, consumer, batchSize, blockMs);
          failures = 0;
          if (batch.length > 0 && !closed) await handleBatch(batch);
        } catch (error) {
          if (closed) break;
          report(error);
          await backoff(failures++);
          // A Redis restarted without persistence forgets the group; make it again and carry on.
          if (error instanceof Error && error.message.includes("NOGROUP")) await backend.ensureGroup(stream, group).catch(() => {});
        }
      }
    })();

    const close = async () => {
      if (closed) return;
      closed = true;
      closers.delete(close);
      reader.close();
      // A handler that hangs must not hold close() hostage: its event simply stays unacknowledged.
      await Promise.race([loop, new Promise((resolve) => setTimeout(resolve, 50))]);
    };
    closers.add(close);
    return { ready: ready.then(() => undefined), close };
  }

  return {
    async publish<T>(stream: string, input: PublishInput<T>): Promise<FirehoseEvent<T>> {
      checkName("stream", stream);
      const event = buildEvent(input);
      // The publish span: a child of the event's stored trace (an outbox row's) or of the span running now.
      const span = tracingOn() ? busTracer.startSpan(`publish ${stream}`, SPAN_OPTIONS.PRODUCER, contextWithTraceparent(input.traceparent, otelContext.active())) : undefined;
      if (!span?.isRecording()) {
        await backend.append(stream, event);
        return event;
      }
      span.setAttributes({ "messaging.system": "boxoffice-firehose", "messaging.operation.type": "send", "messaging.destination.name": stream, "messaging.message.id": event.id, "boxoffice.event.type": event.type });
      event.traceparent = traceparentOf(span);
      try {
        await backend.append(stream, event);
        return event;
      } catch (error) {
        recordFailure(span, error);
        throw error;
      } finally {
        span.end();
      }
    },
    subscribe,
    consume,
    async close() {
      await Promise.all([...closers].map((close) => close()));
      await backend.close();
    },
  };
}

/** Hands one event to its handler inside a consumer span that continues the publisher's trace. */
function handleTraced<T>(stream: string, group: string | undefined, entry: StoredEntry, handler: EventHandler<T>): Promise<void> {
  return inSpan(
    `process ${stream}`,
    SPAN_OPTIONS.CONSUMER,
    () => contextWithTraceparent(entry.event.traceparent),
    () => ({
      "messaging.system": "boxoffice-firehose",
      "messaging.operation.type": "process",
      "messaging.destination.name": stream,
      "messaging.consumer.group.name": group ?? "(broadcast)",
      "messaging.message.id": entry.event.id,
      "boxoffice.event.type": entry.event.type,
      "boxoffice.delivery.attempt": entry.attempt,
    }),
    () => handler(entry.event as FirehoseEvent<T>, delivery(stream, entry)),
  );
}

function delivery(stream: string, entry: StoredEntry): Delivery {
  const result: Delivery = { stream, position: entry.position, attempt: entry.attempt };
  if (entry.deadLetter) result.deadLetter = entry.deadLetter;
  return result;
}
