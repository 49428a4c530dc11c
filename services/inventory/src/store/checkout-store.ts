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
