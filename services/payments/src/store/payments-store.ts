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
}

async function writeOutbox(tx: Sql, event: OutboxInput): Promise<void> {
  await tx.query(
    `INSERT INTO payments.outbox (id, logical_shard, stream, type, version, key, data, occurred_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)`,
    [event.id, event.logicalShard, event.stream, event.type, event.version, event.key, JSON.stringify(event.data), event.occurredAt],
  );
}

export async function insertPayment(tx: Sql, payment: PaymentRecord, logicalShard: number, outbox: OutboxInput): Promise<void> {
  await tx.query(
    `INSERT INTO payments.payments (id, buyer_id, logical_shard, status, amount_cents, refunded_cents, currency, card_last4, reference, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10)`,
    [
      payment.id,
      payment.buyerId,
      logicalShard,
      payment.status,
      payment.amountCents,
      payment.refundedCents,
      payment.currency,
      payment.cardLast4,
      JSON.stringify(payment.reference),
      payment.createdAt,
    ],
  );
  await writeOutbox(tx, outbox);
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
      `UPDATE payments.payments SET status = 'refunded', refunded_cents = refunded_cents + $2 WHERE id = $1 RETURNING *`,
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
}

/**
 * Leases up to `limit` unpublished rows (an atomic UPDATE … SKIP LOCKED: two relays never take the
 * same rows), hands them to `publish`, then marks them published. No transaction stays open while
 * publishing; a relay that dies leaves its lease to run out and the rows are published again (the
 * firehose event id is the row id, so a republish is the same event to consumers).
 */
export async function relayOutbox(sql: Sql, limit: number, publish: (rows: OutboxRow[]) => Promise<void>, leaseMs = 10_000): Promise<number> {
  const rows = await sql.query<{ id: string; stream: string; type: string; version: number; key: string; data: unknown; occurred_at: Date | string }>(
    `UPDATE payments.outbox SET claimed_until = clock_timestamp() + make_interval(secs => $2::int / 1000.0)
     WHERE id IN (
       SELECT id FROM payments.outbox
       WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until < clock_timestamp()) AND ${NOT_FENCED}
       ORDER BY occurred_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
     RETURNING id, stream, type, version, key, data, occurred_at`,
    [limit, leaseMs],
  );
  if (rows.rows.length === 0) return 0;
  const ordered = rows.rows
    .map((r) => ({ id: r.id, stream: r.stream, type: r.type, version: Number(r.version), key: r.key, data: r.data, occurredAt: toIso(r.occurred_at) }))
    .sort((a, b) => (a.occurredAt === b.occurredAt ? (a.id < b.id ? -1 : 1) : a.occurredAt < b.occurredAt ? -1 : 1));
  await publish(ordered);
  await sql.query(`UPDATE payments.outbox SET published_at = clock_timestamp() WHERE id = ANY($1::text[])`, [ordered.map((r) => r.id)]);
  return ordered.length;
}
