// Checkout requests by the client's Idempotency-Key (on the buyer's shard): the stored reply of a
// finished request is what every replay gets.
import type { Sql } from "./sql.ts";

export type StoredReply = { ok: true; body: unknown } | { ok: false; error: { code: string; message: string; details?: unknown } };

export type CheckoutBegin =
  | { state: "new" }
  | { state: "in_progress" }
  | { state: "done"; reply: StoredReply }
  | { state: "mismatch" };

export async function beginCheckout(
  sql: Sql,
  input: { buyerId: string; idempotencyKey: string; logicalShard: number; requestHash: string; holdId: string },
): Promise<CheckoutBegin> {
  const inserted = await sql.query(
    `INSERT INTO inventory.checkout_requests (buyer_id, idempotency_key, logical_shard, request_hash, hold_id, status)
     VALUES ($1, $2, $3, $4, $5, 'in_progress') ON CONFLICT (buyer_id, idempotency_key) DO NOTHING RETURNING buyer_id`,
    [input.buyerId, input.idempotencyKey, input.logicalShard, input.requestHash, input.holdId],
  );
  if (inserted.rowCount === 1) return { state: "new" };
  const row = (
    await sql.query<{ request_hash: string; status: string; response: StoredReply | null }>(
      `SELECT request_hash, status, response FROM inventory.checkout_requests WHERE buyer_id = $1 AND idempotency_key = $2`,
      [input.buyerId, input.idempotencyKey],
    )
  ).rows[0];
  if (!row) return { state: "new" };
  if (row.request_hash !== input.requestHash) return { state: "mismatch" };
  if (row.status === "done" && row.response) return { state: "done", reply: row.response };
  return { state: "in_progress" };
}

export async function finishCheckout(sql: Sql, buyerId: string, idempotencyKey: string, reply: StoredReply): Promise<void> {
  await sql.query(
    `UPDATE inventory.checkout_requests SET status = 'done', response = $3::jsonb, updated_at = now() WHERE buyer_id = $1 AND idempotency_key = $2`,
    [buyerId, idempotencyKey, JSON.stringify(reply)],
  );
}

export interface CheckoutRecord {
  buyerId: string;
  idempotencyKey: string;
  logicalShard: number;
  requestHash: string;
  holdId: string;
}

/**
 * Records many new checkout requests in one statement (group commit, domain/checkout-record-batcher.ts):
 * one entry per input, true when its record was inserted here (state "new"); false when a record of
 * that (buyer, key) already existed, for the caller to settle on the one-request path (beginCheckout).
 * Every (buyer, key) must appear once.
 */
export async function beginCheckoutBatch(sql: Sql, inputs: CheckoutRecord[]): Promise<boolean[]> {
  const inserted = await sql.query<{ buyer_id: string; idempotency_key: string }>(
    `INSERT INTO inventory.checkout_requests (buyer_id, idempotency_key, logical_shard, request_hash, hold_id, status)
     SELECT r.buyer_id, r.idempotency_key, r.logical_shard, r.request_hash, r.hold_id, 'in_progress'
       FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[]) AS r(buyer_id, idempotency_key, logical_shard, request_hash, hold_id)
     ON CONFLICT (buyer_id, idempotency_key) DO NOTHING RETURNING buyer_id, idempotency_key`,
    [
      inputs.map((i) => i.buyerId),
      inputs.map((i) => i.idempotencyKey),
      inputs.map((i) => i.logicalShard),
      inputs.map((i) => i.requestHash),
      inputs.map((i) => i.holdId),
    ],
  );
  const fresh = new Set(inserted.rows.map((r) => JSON.stringify([r.buyer_id, r.idempotency_key])));
  return inputs.map((i) => fresh.has(JSON.stringify([i.buyerId, i.idempotencyKey])));
}

/** finishCheckout for many requests in one statement; every (buyer, key) must appear once. */
export async function finishCheckoutBatch(sql: Sql, inputs: Array<{ buyerId: string; idempotencyKey: string; reply: StoredReply }>): Promise<void> {
  await sql.query(
    `UPDATE inventory.checkout_requests c SET status = 'done', response = r.response::jsonb, updated_at = now()
       FROM unnest($1::text[], $2::text[], $3::text[]) AS r(buyer_id, idempotency_key, response)
      WHERE c.buyer_id = r.buyer_id AND c.idempotency_key = r.idempotency_key`,
    [inputs.map((i) => i.buyerId), inputs.map((i) => i.idempotencyKey), inputs.map((i) => JSON.stringify(i.reply))],
  );
}
