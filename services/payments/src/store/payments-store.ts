// Payments, refunds, idempotency records and the outbox, on the buyer's shard.
import type { Sql } from "./sql.ts";
import { NOT_FENCED, toIso } from "./sql.ts";

export type StoredReply = { ok: true; body: unknown } | { ok: false; error: { code: string; message: string; details?: unknown } };

export type IdempotentResult = { kind: "executed"; reply: StoredReply } | { kind: "replayed"; reply: StoredReply } | { kind: "mismatch" };

export interface IdempotencyScope {
  buyerId: string;
  operation: "charge" | "refund";
  key: string;
  logicalShard: number;
  requestHash: string;
}

/**
 * Runs `execute` at most once per (buyer, operation, key). The record is inserted (status
 * in_progress) in the same transaction as the work and marked done with its reply before commit:
 * a concurrent request with the same key waits on the primary key until the first commits, then
 * reads the stored reply; if the first rolls back (a transient failure) the second executes.
 */
export async function runIdempotent(sql: Sql, scope: IdempotencyScope, execute: (tx: Sql) => Promise<StoredReply>): Promise<IdempotentResult> {
  return sql.transaction(async (tx): Promise<IdempotentResult> => {
    const inserted = await tx.query(
      `INSERT INTO payments.idempotency_keys (buyer_id, operation, key, logical_shard, request_hash, status)
       VALUES ($1, $2, $3, $4, $5, 'in_progress') ON CONFLICT (buyer_id, operation, key) DO NOTHING RETURNING key`,
      [scope.buyerId, scope.operation, scope.key, scope.logicalShard, scope.requestHash],
    );
    if (inserted.rowCount === 0) {
      const row = (
        await tx.query<{ request_hash: string; response: StoredReply | null }>(
          `SELECT request_hash, response FROM payments.idempotency_keys WHERE buyer_id = $1 AND operation = $2 AND key = $3`,
          [scope.buyerId, scope.operation, scope.key],
        )
      ).rows[0];
      if (!row || row.request_hash !== scope.requestHash) return { kind: "mismatch" };
      if (!row.response) throw new Error(`idempotency record ${scope.key} committed without a reply`);
      return { kind: "replayed", reply: row.response };
    }
    const reply = await execute(tx);
    await tx.query(
      `UPDATE payments.idempotency_keys SET status = 'done', response = $4::jsonb, updated_at = now()
       WHERE buyer_id = $1 AND operation = $2 AND key = $3`,
      [scope.buyerId, scope.operation, scope.key, JSON.stringify(reply)],
    );
    return { kind: "executed", reply };
  });
}

/** What a charge's pending record keeps so its outcome can be recorded without the card. */
export interface PendingCharge {
  paymentId: string;
  amountCents: number;
  currency: string;
  cardLast4: string;
  reference: PaymentRecord["reference"];
}

export type BegunCharge =
  | { state: "done"; reply: StoredReply }
  | { state: "mismatch" }
  /** This caller holds the lease and goes to the processor with the pending record's key. */
  | { state: "leased"; pending: PendingCharge }
  /** Another caller holds the lease until `lockedUntil` (epoch ms). */
  | { state: "busy"; lockedUntil: number };

interface ChargeKeyRow {
  request_hash: string;
  status: "in_progress" | "done" | "abandoned";
  response: StoredReply | null;
  payment_id: string | null;
  pending: Omit<PendingCharge, "paymentId"> | null;
  locked_until: Date | string | null;
  lease_free: boolean;
}

/**
 * Step one of a charge: commits the pending record (status in_progress, the payment id minted now,
 * a lease of `leaseMs`) before anything is sent to the processor. A second request with the key
 * replays a finished reply, takes over a pending record whose lease ran out, or is told to wait.
 */
function insertChargeKey(sql: Sql, scope: Omit<IdempotencyScope, "operation">, pending: PendingCharge, leaseMs: number) {
  const { paymentId, ...kept } = pending;
  return sql.query(
    `INSERT INTO payments.idempotency_keys (buyer_id, operation, key, logical_shard, request_hash, status, payment_id, pending, locked_until)
     VALUES ($1, 'charge', $2, $3, $4, 'in_progress', $5, $6::jsonb, clock_timestamp() + make_interval(secs => $7::int / 1000.0))
     ON CONFLICT (buyer_id, operation, key) DO NOTHING RETURNING key`,
    [scope.buyerId, scope.key, scope.logicalShard, scope.requestHash, paymentId, JSON.stringify(kept), leaseMs],
  );
}

/** A charge's pending record, as beginCharge's first statement writes it. */
export interface NewChargeKey {
  scope: Omit<IdempotencyScope, "operation">;
  pending: PendingCharge;
  leaseMs: number;
}

/**
 * insertChargeKey for many charges in one statement (group commit): true where the pending record
 * was inserted (that charge holds the lease), false where its key existed (beginCharge answers it).
 * Every (buyer, key) must appear once.
 */
export async function insertChargeKeys(sql: Sql, inputs: readonly NewChargeKey[]): Promise<boolean[]> {
  const inserted = await sql.query<{ buyer_id: string; key: string }>(
    `INSERT INTO payments.idempotency_keys (buyer_id, operation, key, logical_shard, request_hash, status, payment_id, pending, locked_until)
     SELECT r.buyer_id, 'charge', r.key, r.logical_shard, r.request_hash, 'in_progress', r.payment_id, r.pending::jsonb,
            clock_timestamp() + make_interval(secs => r.lease_ms / 1000.0)
       FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::int[]) AS r(buyer_id, key, logical_shard, request_hash, payment_id, pending, lease_ms)
     ON CONFLICT (buyer_id, operation, key) DO NOTHING RETURNING buyer_id, key`,
    [
      inputs.map((i) => i.scope.buyerId),
      inputs.map((i) => i.scope.key),
      inputs.map((i) => i.scope.logicalShard),
      inputs.map((i) => i.scope.requestHash),
      inputs.map((i) => i.pending.paymentId),
      // What the outcome needs, without the payment id (its own column), as insertChargeKey stores it.
      inputs.map((i) => JSON.stringify({ ...i.pending, paymentId: undefined })),
      inputs.map((i) => i.leaseMs),
    ],
  );
  const fresh = new Set(inserted.rows.map((r) => JSON.stringify([r.buyer_id, r.key])));
  return inputs.map((i) => fresh.has(JSON.stringify([i.scope.buyerId, i.scope.key])));
}

export async function beginCharge(sql: Sql, scope: Omit<IdempotencyScope, "operation">, pending: PendingCharge, leaseMs: number): Promise<BegunCharge> {
  // A new key (nearly every charge) is one statement on its own, committed by itself: no BEGIN and
  // COMMIT around it. Only a key seen before needs the transaction below (its row locked, then read).
  if ((await insertChargeKey(sql, scope, pending, leaseMs)).rowCount === 1) return { state: "leased", pending };
  return sql.transaction(async (tx): Promise<BegunCharge> => {
    const inserted = await insertChargeKey(tx, scope, pending, leaseMs);
    if (inserted.rowCount === 1) return { state: "leased", pending };
    const row = (
      await tx.query<ChargeKeyRow>(
        `SELECT request_hash, status, response, payment_id, pending, locked_until,
                (locked_until IS NULL OR locked_until < clock_timestamp()) AS lease_free
         FROM payments.idempotency_keys WHERE buyer_id = $1 AND operation = 'charge' AND key = $2 FOR UPDATE`,
        [scope.buyerId, scope.key],
      )
    ).rows[0];
    if (!row || row.request_hash !== scope.requestHash) return { state: "mismatch" };
    if (row.status === "done") {
      if (!row.response) throw new Error(`idempotency record ${scope.key} is done without a reply`);
      return { state: "done", reply: row.response };
    }
    if (!row.payment_id || !row.pending) throw new Error(`charge record ${scope.key} has no pending payment (written before pending records existed)`);
    if (!row.lease_free && row.locked_until) return { state: "busy", lockedUntil: new Date(row.locked_until).getTime() };
    await tx.query(
      `UPDATE payments.idempotency_keys SET locked_until = clock_timestamp() + make_interval(secs => $3::int / 1000.0), updated_at = now()
       WHERE buyer_id = $1 AND operation = 'charge' AND key = $2`,
      [scope.buyerId, scope.key, leaseMs],
    );
    return { state: "leased", pending: { paymentId: row.payment_id, ...row.pending } };
  });
}

/** Gives a pending record's lease back (the processor failed): the next request with the key goes at once. */
export async function releaseCharge(sql: Sql, buyerId: string, key: string): Promise<void> {
  await sql.query(`UPDATE payments.idempotency_keys SET locked_until = NULL WHERE buyer_id = $1 AND operation = 'charge' AND key = $2 AND status <> 'done'`, [
    buyerId,
    key,
  ]);
}

/**
 * Step three of a charge: records the processor's answer. A capture inserts the payment (once: its
 * id was minted with the pending record) and its outbox event; the record becomes done with the
 * reply. Whoever comes second (a concurrent taker-over, the reconciler) gets the reply in force.
 */
export async function finishCharge(
  sql: Sql,
  target: { buyerId: string; key: string },
  reply: StoredReply,
  capture?: { payment: PaymentRecord; logicalShard: number; outbox: OutboxInput },
): Promise<{ reply: StoredReply; wroteOutbox: boolean }> {
  if (capture) {
    const finished = await finishCapture(sql, target, reply, capture);
    if (finished) return finished;
  }
  return sql.transaction(async (tx) => {
    const row = (
      await tx.query<{ status: string; response: StoredReply | null }>(
        `SELECT status, response FROM payments.idempotency_keys WHERE buyer_id = $1 AND operation = 'charge' AND key = $2 FOR UPDATE`,
        [target.buyerId, target.key],
      )
    ).rows[0];
    if (row?.status === "done" && row.response) return { reply: row.response, wroteOutbox: false };
    let wroteOutbox = false;
    if (capture) {
      const inserted = await tx.query(
        `INSERT INTO payments.payments (id, buyer_id, logical_shard, status, amount_cents, refunded_cents, currency, card_last4, reference, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10) ON CONFLICT (id) DO NOTHING`,
        [
          capture.payment.id,
          capture.payment.buyerId,
          capture.logicalShard,
          capture.payment.status,
          capture.payment.amountCents,
          capture.payment.refundedCents,
          capture.payment.currency,
          capture.payment.cardLast4,
          JSON.stringify(capture.payment.reference),
          capture.payment.createdAt,
        ],
      );
      if (inserted.rowCount === 1) {
        await writeOutbox(tx, capture.outbox);
        wroteOutbox = true;
      }
    }
    await tx.query(
      `UPDATE payments.idempotency_keys SET status = 'done', response = $3::jsonb, locked_until = NULL, updated_at = now()
       WHERE buyer_id = $1 AND operation = 'charge' AND key = $2`,
      [target.buyerId, target.key, JSON.stringify(reply)],
    );
    return { reply, wroteOutbox };
  });
}

/**
 * The usual capture in one statement instead of a transaction of six (BEGIN, the key locked and
 * read, the payment, its outbox row, the key's reply, COMMIT): the key's row is marked done only if
 * it is not done yet (the update takes its row lock, and a concurrent finisher's commit is seen by
 * the re-check), and the payment and its outbox row are written only with that update. Undefined
 * when the key was done already, or is missing: the transaction in finishCharge answers those.
 */
async function finishCapture(
  sql: Sql,
  target: { buyerId: string; key: string },
  reply: StoredReply,
  capture: { payment: PaymentRecord; logicalShard: number; outbox: OutboxInput },
): Promise<{ reply: StoredReply; wroteOutbox: boolean } | undefined> {
  const { payment, outbox } = capture;
  const result = await sql.query<{ finished: number; wrote: number }>(
    `WITH finished AS (
       UPDATE payments.idempotency_keys SET status = 'done', response = $3::jsonb, locked_until = NULL, updated_at = now()
       WHERE buyer_id = $1 AND operation = 'charge' AND key = $2 AND NOT (status = 'done' AND response IS NOT NULL)
       RETURNING key
     ), paid AS (
       INSERT INTO payments.payments (id, buyer_id, logical_shard, status, amount_cents, refunded_cents, currency, card_last4, reference, created_at)
       SELECT $4::text, $5::text, $6::int, $7::text, $8::int, $9::int, $10::text, $11::text, $12::jsonb, $13::timestamptz FROM finished
       ON CONFLICT (id) DO NOTHING RETURNING id
     ), relayed AS (
       INSERT INTO payments.outbox (id, logical_shard, stream, type, version, key, data, occurred_at, traceparent)
       SELECT $14::text, $15::int, $16::text, $17::text, $18::int, $19::text, $20::jsonb, $21::timestamptz, $22::text FROM paid
       RETURNING id
     )
     SELECT (SELECT count(*) FROM finished)::int AS finished, (SELECT count(*) FROM relayed)::int AS wrote`,
    [
      target.buyerId,
      target.key,
      JSON.stringify(reply),
      payment.id,
      payment.buyerId,
      capture.logicalShard,
      payment.status,
      payment.amountCents,
      payment.refundedCents,
      payment.currency,
      payment.cardLast4,
      JSON.stringify(payment.reference),
      payment.createdAt,
      outbox.id,
      outbox.logicalShard,
      outbox.stream,
      outbox.type,
      outbox.version,
      outbox.key,
      JSON.stringify(outbox.data),
      outbox.occurredAt,
      outbox.traceparent ?? null,
    ],
  );
  const row = result.rows[0];
  if (!row || Number(row.finished) === 0) return undefined;
  return { reply, wroteOutbox: Number(row.wrote) > 0 };
}

/** A capture to record, as finishCharge takes it. */
export interface CaptureToFinish {
  target: { buyerId: string; key: string };
  reply: StoredReply;
  capture: { payment: PaymentRecord; logicalShard: number; outbox: OutboxInput };
}

/**
 * finishCapture for many charges in one statement (group commit), with the same guard per charge:
 * each key is marked done only if it is not done yet, and its payment and outbox row are written
 * only with that update. Per charge: its answer, or undefined where the key was done already or is
 * missing (finishCharge's transaction answers those). Every (buyer, key) must appear once.
 */
export async function finishCaptures(sql: Sql, inputs: readonly CaptureToFinish[]): Promise<Array<{ reply: StoredReply; wroteOutbox: boolean } | undefined>> {
  const column = <T>(f: (i: CaptureToFinish) => T) => inputs.map(f);
  const result = await sql.query<{ buyer_id: string; key: string; wrote: boolean }>(
    `WITH input AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::int[], $9::int[], $10::text[], $11::text[],
                            $12::text[], $13::text[], $14::text[], $15::int[], $16::text[], $17::text[], $18::int[], $19::text[], $20::text[], $21::text[], $22::text[])
         AS r(buyer_id, key, response, payment_id, payment_buyer_id, logical_shard, status, amount_cents, refunded_cents, currency, card_last4,
              reference, created_at, outbox_id, outbox_logical_shard, stream, type, version, outbox_key, data, occurred_at, traceparent)
     ), finished AS (
       UPDATE payments.idempotency_keys k SET status = 'done', response = i.response::jsonb, locked_until = NULL, updated_at = now()
         FROM input i
        WHERE k.buyer_id = i.buyer_id AND k.operation = 'charge' AND k.key = i.key AND NOT (k.status = 'done' AND k.response IS NOT NULL)
       RETURNING k.buyer_id, k.key
     ), paid AS (
       INSERT INTO payments.payments (id, buyer_id, logical_shard, status, amount_cents, refunded_cents, currency, card_last4, reference, created_at)
       SELECT i.payment_id, i.payment_buyer_id, i.logical_shard, i.status, i.amount_cents, i.refunded_cents, i.currency, i.card_last4, i.reference::jsonb, i.created_at::timestamptz
         FROM input i JOIN finished f ON f.buyer_id = i.buyer_id AND f.key = i.key
       ON CONFLICT (id) DO NOTHING RETURNING id
     ), relayed AS (
       INSERT INTO payments.outbox (id, logical_shard, stream, type, version, key, data, occurred_at, traceparent)
       SELECT i.outbox_id, i.outbox_logical_shard, i.stream, i.type, i.version, i.outbox_key, i.data::jsonb, i.occurred_at::timestamptz, i.traceparent
         FROM input i JOIN paid p ON p.id = i.payment_id
       RETURNING id
     )
     SELECT f.buyer_id, f.key, (r.id IS NOT NULL) AS wrote
       FROM finished f JOIN input i ON i.buyer_id = f.buyer_id AND i.key = f.key LEFT JOIN relayed r ON r.id = i.outbox_id`,
    [
      column((i) => i.target.buyerId),
      column((i) => i.target.key),
      column((i) => JSON.stringify(i.reply)),
      column((i) => i.capture.payment.id),
      column((i) => i.capture.payment.buyerId),
      column((i) => i.capture.logicalShard),
      column((i) => i.capture.payment.status),
      column((i) => i.capture.payment.amountCents),
      column((i) => i.capture.payment.refundedCents),
      column((i) => i.capture.payment.currency),
      column((i) => i.capture.payment.cardLast4),
      column((i) => JSON.stringify(i.capture.payment.reference)),
      column((i) => i.capture.payment.createdAt),
      column((i) => i.capture.outbox.id),
      column((i) => i.capture.outbox.logicalShard),
      column((i) => i.capture.outbox.stream),
      column((i) => i.capture.outbox.type),
      column((i) => i.capture.outbox.version),
      column((i) => i.capture.outbox.key),
      column((i) => JSON.stringify(i.capture.outbox.data)),
      column((i) => i.capture.outbox.occurredAt),
      column((i) => i.capture.outbox.traceparent ?? null),
    ],
  );
  const finished = new Map(result.rows.map((r) => [JSON.stringify([r.buyer_id, r.key]), r.wrote === true]));
  return inputs.map((i) => {
    const wrote = finished.get(JSON.stringify([i.target.buyerId, i.target.key]));
    return wrote === undefined ? undefined : { reply: i.reply, wroteOutbox: wrote };
  });
}

export interface StalePendingCharge extends PendingCharge {
  buyerId: string;
  key: string;
}

/** Leases pending charges older than `olderThanMs` whose lease ran out (the reconciler settles them). */
export async function leaseStalePendingCharges(sql: Sql, olderThanMs: number, limit: number, leaseMs: number): Promise<StalePendingCharge[]> {
  const rows = await sql.query<{ buyer_id: string; key: string; payment_id: string; pending: Omit<PendingCharge, "paymentId"> }>(
    `UPDATE payments.idempotency_keys SET locked_until = clock_timestamp() + make_interval(secs => $3::int / 1000.0)
     WHERE (buyer_id, operation, key) IN (
       SELECT buyer_id, operation, key FROM payments.idempotency_keys
       WHERE status = 'in_progress' AND operation = 'charge' AND payment_id IS NOT NULL
         AND created_at < clock_timestamp() - make_interval(secs => $1::int / 1000.0)
         AND (locked_until IS NULL OR locked_until < clock_timestamp())
       ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)
     RETURNING buyer_id, key, payment_id, pending`,
    [olderThanMs, limit, leaseMs],
  );
  return rows.rows.map((r) => ({ buyerId: r.buyer_id, key: r.key, paymentId: r.payment_id, ...r.pending }));
}

/** A pending charge the processor never saw: no money moved; a retry with the key resumes it. */
export async function abandonCharge(sql: Sql, buyerId: string, key: string): Promise<void> {
  await sql.query(
    `UPDATE payments.idempotency_keys SET status = 'abandoned', locked_until = NULL, updated_at = now()
     WHERE buyer_id = $1 AND operation = 'charge' AND key = $2 AND status = 'in_progress'`,
    [buyerId, key],
  );
}

/** Leases captured payments older than `olderThanMs` with no decided outcome (one owner at a time). */
export async function leaseUnsettledPayments(sql: Sql, olderThanMs: number, limit: number, leaseMs: number): Promise<PaymentRecord[]> {
  const rows = await sql.query<PaymentRow>(
    `UPDATE payments.payments SET reconcile_lease = clock_timestamp() + make_interval(secs => $3::int / 1000.0)
     WHERE id IN (
       SELECT id FROM payments.payments
       WHERE settled_at IS NULL AND created_at < clock_timestamp() - make_interval(secs => $1::int / 1000.0)
         AND (reconcile_lease IS NULL OR reconcile_lease < clock_timestamp())
       ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)
     RETURNING *`,
    [olderThanMs, limit, leaseMs],
  );
  return rows.rows.map(toPayment);
}

/** Records what became of a payment; the reconciler leaves it alone from then on. */
export async function markSettled(sql: Sql, paymentId: string, outcome: string): Promise<void> {
  await sql.query(`UPDATE payments.payments SET settled_at = clock_timestamp(), outcome = $2, reconcile_lease = NULL WHERE id = $1 AND settled_at IS NULL`, [
    paymentId,
    outcome,
  ]);
}

export interface PaymentRecord {
  id: string;
  buyerId: string;
  status: "captured" | "refunded";
  amountCents: number;
  refundedCents: number;
  currency: string;
  cardLast4: string;
  reference: { holdId?: string; eventId?: string; description?: string };
  createdAt: string;
}

interface PaymentRow {
  id: string;
  buyer_id: string;
  status: "captured" | "refunded";
  amount_cents: number;
  refunded_cents: number;
  currency: string;
  card_last4: string;
  reference: PaymentRecord["reference"];
  created_at: Date | string;
}

function toPayment(row: PaymentRow): PaymentRecord {
  return {
    id: row.id,
    buyerId: row.buyer_id,
    status: row.status,
    amountCents: Number(row.amount_cents),
    refundedCents: Number(row.refunded_cents),
    currency: row.currency,
    cardLast4: row.card_last4,
    reference: row.reference,
    createdAt: toIso(row.created_at),
  };
}

export interface OutboxInput {
  id: string;
  logicalShard: number;
  stream: string;
  type: string;
  version: number;
  key: string;
  data: unknown;
  occurredAt: string;
  /** W3C trace context of the writer, when traced. */
  traceparent?: string;
}

async function writeOutbox(tx: Sql, event: OutboxInput): Promise<void> {
  await tx.query(
    `INSERT INTO payments.outbox (id, logical_shard, stream, type, version, key, data, occurred_at, traceparent)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)`,
    [event.id, event.logicalShard, event.stream, event.type, event.version, event.key, JSON.stringify(event.data), event.occurredAt, event.traceparent ?? null],
  );
}

export async function readPayment(sql: Sql, paymentId: string): Promise<PaymentRecord | undefined> {
  const row = (await sql.query<PaymentRow>(`SELECT * FROM payments.payments WHERE id = $1`, [paymentId])).rows[0];
  return row ? toPayment(row) : undefined;
}

export async function lockPayment(tx: Sql, paymentId: string): Promise<PaymentRecord | undefined> {
  const row = (await tx.query<PaymentRow>(`SELECT * FROM payments.payments WHERE id = $1 FOR UPDATE`, [paymentId])).rows[0];
  return row ? toPayment(row) : undefined;
}

export async function readRefundOf(tx: Sql, paymentId: string): Promise<{ id: string; amountCents: number } | undefined> {
  const row = (await tx.query<{ id: string; amount_cents: number }>(`SELECT id, amount_cents FROM payments.refunds WHERE payment_id = $1`, [paymentId])).rows[0];
  return row ? { id: row.id, amountCents: Number(row.amount_cents) } : undefined;
}

export async function insertRefund(
  tx: Sql,
  refund: { id: string; paymentId: string; buyerId: string; logicalShard: number; amountCents: number; reason?: string },
  outbox: OutboxInput,
): Promise<PaymentRecord> {
  await tx.query(
    `INSERT INTO payments.refunds (id, payment_id, buyer_id, logical_shard, amount_cents, reason) VALUES ($1, $2, $3, $4, $5, $6)`,
    [refund.id, refund.paymentId, refund.buyerId, refund.logicalShard, refund.amountCents, refund.reason ?? null],
  );
  const row = (
    await tx.query<PaymentRow>(
      `UPDATE payments.payments SET status = 'refunded', refunded_cents = refunded_cents + $2,
         settled_at = coalesce(settled_at, clock_timestamp()), outcome = coalesce(outcome, 'refunded') WHERE id = $1 RETURNING *`,
      [refund.paymentId, refund.amountCents],
    )
  ).rows[0];
  await writeOutbox(tx, outbox);
  return toPayment(row);
}

export async function listPayments(sql: Sql, buyerId: string, limit: number, before?: { createdAt: string; id: string }): Promise<PaymentRecord[]> {
  const params: unknown[] = [buyerId, limit];
  let where = "";
  if (before) {
    params.push(before.createdAt, before.id);
    where = `AND (created_at, id) < ($3::timestamptz, $4::text)`;
  }
  const rows = await sql.query<PaymentRow>(`SELECT * FROM payments.payments WHERE buyer_id = $1 ${where} ORDER BY created_at DESC, id DESC LIMIT $2`, params);
  return rows.rows.map(toPayment);
}

export interface OutboxRow {
  id: string;
  stream: string;
  type: string;
  version: number;
  key: string;
  data: unknown;
  occurredAt: string;
  traceparent?: string;
}

/**
 * Leases up to `limit` unpublished rows (an atomic UPDATE … SKIP LOCKED: two relays never take the
 * same rows), hands them to `publish`, then marks them published. No transaction stays open while
 * publishing; a relay that dies leaves its lease to run out and the rows are published again (the
 * firehose event id is the row id, so a republish is the same event to consumers).
 */
export async function relayOutbox(sql: Sql, limit: number, publish: (rows: OutboxRow[]) => Promise<void>, leaseMs = 10_000): Promise<number> {
  const rows = await sql.query<{ id: string; stream: string; type: string; version: number; key: string; data: unknown; occurred_at: Date | string; traceparent: string | null }>(
    `UPDATE payments.outbox SET claimed_until = clock_timestamp() + make_interval(secs => $2::int / 1000.0)
     WHERE id IN (
       SELECT id FROM payments.outbox
       WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until < clock_timestamp()) AND ${NOT_FENCED}
       ORDER BY occurred_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
     RETURNING id, stream, type, version, key, data, occurred_at, traceparent`,
    [limit, leaseMs],
  );
  if (rows.rows.length === 0) return 0;
  const ordered = rows.rows
    .map((r) => ({ id: r.id, stream: r.stream, type: r.type, version: Number(r.version), key: r.key, data: r.data, occurredAt: toIso(r.occurred_at), traceparent: r.traceparent ?? undefined }))
    .sort((a, b) => (a.occurredAt === b.occurredAt ? (a.id < b.id ? -1 : 1) : a.occurredAt < b.occurredAt ? -1 : 1));
  await publish(ordered);
  await sql.query(`UPDATE payments.outbox SET published_at = clock_timestamp() WHERE id = ANY($1::text[])`, [ordered.map((r) => r.id)]);
  return ordered.length;
}
