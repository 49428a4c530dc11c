// Group commit of a charge's three autocommitted statements: its pending record (beginCharge), the
// simulated processor's book of it, and its captured outcome (finishCharge). Charges of one
// physical shard that queue while a statement of that kind runs there (createGroupCommit of
// @boxoffice/sharding) are served by one statement over arrays, one commit for all of them,
// instead of one statement and one commit each.
//
// The answers are the one-charge path's. A batch of one runs today's statement. Whatever the
// grouped statement did not settle runs alone on the one-charge function: a key that existed (a
// replay, a charge in progress, a mismatch), a key already in the batch (it runs after), and every
// charge of a batch whose statement failed as a whole (a shard moving, a constraint, a database
// error), so one bad charge never fails the others.
import { createGroupCommit, firstOfEach, physicalExecutorOf, type GroupWait } from "@boxoffice/sharding";
import {
  beginCharge,
  finishCaptures,
  finishCharge,
  insertChargeKeys,
  type BegunCharge,
  type CaptureToFinish,
  type NewChargeKey,
  type StoredReply,
} from "../store/payments-store.ts";
import { recordProcessorEntries } from "../store/processor-books-store.ts";
import { withRetry, type ShardSql, type Sql } from "../store/sql.ts";
import type { ProcessorBooks, ProcessorResult } from "./processor.ts";

/** What grouping needs: where the rows live, and how big a batch may be. */
export interface ChargeBatching {
  shards: ShardSql;
  /** Most charges of one physical shard served by one statement (PAYMENTS_BATCH_MAX); 1 or unset: one each. */
  batchMax?: number;
  /** Waiting for company when a shard is hot (PAYMENTS_BATCH_WAIT_MS, PAYMENTS_BATCH_HOT_MS); unset or ms = 0: never waits. */
  batchWait?: GroupWait;
}

/** What the batcher did in this process (tests and benches read it). */
export const chargeBatchStats = { beginBatches: 0, beginBatched: 0, bookBatches: 0, bookBatched: 0, finishBatches: 0, finishBatched: 0, alone: 0, batchFailures: 0 };

interface Queued {
  /** The request's own executor (follows shard moves): what it runs on alone. */
  sql: Sql;
  /** The physical shard's executor the grouped statement runs on (no move following: a fenced row fails the batch, and each charge then runs alone). */
  physical: Sql;
  reject(error: unknown): void;
}

interface PendingBegin extends Queued, NewChargeKey {
  resolve(begun: BegunCharge): void;
}

interface PendingFinish extends Queued, CaptureToFinish {
  resolve(finished: { reply: StoredReply; wroteOutbox: boolean }): void;
}

interface PendingBook extends Queued {
  key: string;
  entry: { kind: "charge" | "refund"; amountCents: number; result: ProcessorResult };
  logicalShard: number;
  /** The books' own record of one key (insert, or read the first result). */
  alone: ProcessorBooks["record"];
  resolve(first: ProcessorResult): void;
}

const chargeKeyOf = (buyerId: string, key: string) => JSON.stringify([buyerId, key]);

function beginAlone(p: PendingBegin): Promise<void> {
  chargeBatchStats.alone++;
  return beginCharge(p.sql, p.scope, p.pending, p.leaseMs).then(p.resolve, p.reject);
}

function finishAlone(p: PendingFinish): Promise<void> {
  chargeBatchStats.alone++;
  return finishCharge(p.sql, p.target, p.reply, p.capture).then(p.resolve, p.reject);
}

function bookAlone(p: PendingBook): Promise<void> {
  chargeBatchStats.alone++;
  return p.alone(p.key, p.entry).then(p.resolve, p.reject);
}

const begins = createGroupCommit<string, PendingBegin>(async (batch) => {
  const { together, later } = firstOfEach(batch, (p) => chargeKeyOf(p.scope.buyerId, p.scope.key));
  if (together.length === 1) {
    await beginAlone(together[0]);
  } else {
    chargeBatchStats.beginBatches++;
    chargeBatchStats.beginBatched += together.length;
    let fresh: boolean[] | undefined;
    try {
      fresh = await withRetry(() => insertChargeKeys(together[0].physical, together));
    } catch {
      chargeBatchStats.batchFailures++;
    }
    for (const [i, p] of together.entries()) {
      if (fresh?.[i]) p.resolve({ state: "leased", pending: p.pending });
      else beginAlone(p).catch(() => {}); // settles p itself
    }
  }
  // After the batch committed its records: a repeat finds its key in progress, as one at a time.
  for (const p of later) beginAlone(p).catch(() => {});
});

const finishes = createGroupCommit<string, PendingFinish>(async (batch) => {
  const { together, later } = firstOfEach(batch, (p) => chargeKeyOf(p.target.buyerId, p.target.key));
  if (together.length === 1) {
    await finishAlone(together[0]);
  } else {
    chargeBatchStats.finishBatches++;
    chargeBatchStats.finishBatched += together.length;
    let finished: Array<{ reply: StoredReply; wroteOutbox: boolean } | undefined> | undefined;
    try {
      finished = await withRetry(() => finishCaptures(together[0].physical, together));
    } catch {
      chargeBatchStats.batchFailures++;
    }
    for (const [i, p] of together.entries()) {
      const answer = finished?.[i];
      if (answer) p.resolve(answer);
      else finishAlone(p).catch(() => {});
    }
  }
  // A repeat (two finishers of one key) gets the reply in force, as one at a time.
  for (const p of later) await finishAlone(p);
});

const books = createGroupCommit<string, PendingBook>(async (batch) => {
  const { together, later } = firstOfEach(batch, (p) => p.key);
  if (together.length === 1) {
    await bookAlone(together[0]);
  } else {
    chargeBatchStats.bookBatches++;
    chargeBatchStats.bookBatched += together.length;
    let written: Map<string, ProcessorResult> | undefined;
    try {
      written = await withRetry(() =>
        recordProcessorEntries(
          together[0].physical,
          together.map((p) => ({ key: p.key, logicalShard: p.logicalShard, ...p.entry })),
        ),
      );
    } catch {
      chargeBatchStats.batchFailures++;
    }
    for (const p of together) {
      const first = written?.get(p.key);
      if (first) p.resolve(first);
      else bookAlone(p).catch(() => {}); // the key was there: its first result
    }
  }
  for (const p of later) bookAlone(p).catch(() => {});
});

/** beginCharge, in one statement with the shard's other new charges of the moment when `batchMax` > 1. */
export function beginChargeGrouped(sql: Sql, input: NewChargeKey, deps: ChargeBatching): Promise<BegunCharge> {
  const max = deps.batchMax ?? 1;
  const physical = max > 1 ? physicalExecutorOf(sql, deps.shards.all()) : undefined;
  if (!physical) return beginCharge(sql, input.scope, input.pending, input.leaseMs);
  return new Promise((resolve, reject) => begins.enqueue(deps.shards, physical.shard, { sql, physical, ...input, resolve, reject }, max, deps.batchWait));
}

/** finishCharge of a capture, in one statement with the shard's other captures of the moment when `batchMax` > 1. */
export function finishCaptureGrouped(sql: Sql, input: CaptureToFinish, deps: ChargeBatching): Promise<{ reply: StoredReply; wroteOutbox: boolean }> {
  const max = deps.batchMax ?? 1;
  const physical = max > 1 ? physicalExecutorOf(sql, deps.shards.all()) : undefined;
  if (!physical) return finishCharge(sql, input.target, input.reply, input.capture);
  return new Promise((resolve, reject) => finishes.enqueue(deps.shards, physical.shard, { sql, physical, ...input, resolve, reject }, max, deps.batchWait));
}

/**
 * The SQL books with their records grouped: a new key's result is written in one statement with
 * the other keys of its physical shard that queued meanwhile; `single` answers everything else.
 */
export function groupedProcessorBooks(single: ProcessorBooks, deps: ChargeBatching): ProcessorBooks {
  const max = deps.batchMax ?? 1;
  if (max <= 1) return single;
  const alone = (key: string, entry: PendingBook["entry"]) => single.record(key, entry);
  return {
    read: (key) => single.read(key),
    record(key, entry) {
      const sql = deps.shards.forKey(key);
      const physical = physicalExecutorOf(sql, deps.shards.all());
      if (!physical) return single.record(key, entry);
      return new Promise((resolve, reject) =>
        books.enqueue(deps.shards, physical.shard, { sql, physical, key, entry, logicalShard: deps.shards.logicalShardOf(key), alone, resolve, reject }, max, deps.batchWait),
      );
    },
  };
}
