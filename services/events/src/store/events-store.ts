// The only code that touches the catalogue tables. Raw SQL through the shard router: an event and
// its outbox row are written in one transaction on the event's shard; the list is a per-shard
// index scan on (starts_at, id) that the domain merges across shards.
import type { CatalogueEvent, Section } from "@boxoffice/contracts";
import { activeTraceparent } from "@boxoffice/bus";
import { NOT_FENCED } from "@boxoffice/sharding";

export interface ShardSql {
  readonly shard: string;
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<{ rows: Row[]; rowCount: number }>;
  transaction<T>(fn: (tx: ShardSql) => Promise<T>): Promise<T>;
}

/** How the store reaches the shards; app.ts adapts the shard router to it. */
export interface EventsShards {
  forId(id: string, options?: { read?: boolean }): ShardSql;
  all(options?: { read?: boolean }): ShardSql[];
}

/** Where a page of upcoming events starts (exclusive). */
export interface ListPosition {
  startsAt: string;
  id: string;
}

export interface OutboxRow {
  id: string;
  eventId: string;
  type: string;
  payload: CatalogueEvent;
  /** W3C trace context of the change that wrote the row, when traced. */
  traceparent?: string;
}

export interface EventsStore {
  /** Inserts the event and its outbox row in one transaction. */
  insert(event: CatalogueEvent, outboxType: string): Promise<void>;
  findById(id: string, options?: { read?: boolean }): Promise<CatalogueEvent | undefined>;
  /**
   * Locks the event, lets `change` decide the next state (or throw), then writes it and its outbox
   * row in the same transaction. `change` returning undefined means "no change" (nothing written).
   */
  mutate(id: string, outboxType: string, change: (current: CatalogueEvent) => CatalogueEvent | undefined): Promise<CatalogueEvent | undefined>;
  /** One shard's on-sale events starting after `now`, after `position`, sorted by (startsAt, id). */
  listUpcoming(shard: ShardSql, options: { now: Date; after?: ListPosition; limit: number }): Promise<CatalogueEvent[]>;
  /**
   * Claims up to `limit` unpublished outbox rows of one shard (FOR UPDATE SKIP LOCKED, so another
   * relay skips them), hands them to `publish` in order, and marks those it returned as published —
   * all in one transaction. A crash before the commit leaves the rows for the next poll.
   */
  relayOutbox(shard: ShardSql, limit: number, publish: (rows: OutboxRow[]) => Promise<void>): Promise<number>;
  checkShards(): Promise<Array<{ shard: string; ok: boolean; error?: string }>>;
}

interface EventRow {
  id: bigint | string;
  organizer_id: bigint | string;
  title: string;
  venue: string;
  starts_at: Date | string;
  sales_start_at: Date | string | null;
  status: CatalogueEvent["status"];
  sections: Section[] | string;
  capacity: number;
  min_price_cents: number;
  version: number;
  created_at: Date | string;
  updated_at: Date | string;
}

const COLUMNS = "id, organizer_id, title, venue, starts_at, sales_start_at, status, sections, capacity, min_price_cents, version, created_at, updated_at";
const iso = (value: Date | string) => new Date(value).toISOString();

function toEvent(row: EventRow): CatalogueEvent {
  return {
    id: String(row.id),
    organizerId: String(row.organizer_id),
    title: row.title,
    venue: row.venue,
    startsAt: iso(row.starts_at),
    salesStartAt: iso(row.sales_start_at ?? row.created_at),
    status: row.status,
    sections: typeof row.sections === "string" ? (JSON.parse(row.sections) as Section[]) : row.sections,
    capacity: row.capacity,
    minPriceCents: row.min_price_cents,
    version: row.version,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

async function writeOutbox(tx: ShardSql, event: CatalogueEvent, type: string): Promise<void> {
  // The writer's trace travels with the row: the relay's publish and the consumers join it.
  await tx.query(`insert into catalogue_outbox (event_id, type, payload, traceparent) values ($1, $2, $3::jsonb, $4)`, [event.id, type, JSON.stringify(event), activeTraceparent() ?? null]);
}

export function createEventsStore(shards: EventsShards): EventsStore {
  return {
    async insert(event, outboxType) {
      await shards.forId(event.id).transaction(async (tx) => {
        await tx.query(
          `insert into catalogue_events (${COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13)`,
          [
            event.id,
            event.organizerId,
            event.title,
            event.venue,
            event.startsAt,
            event.salesStartAt ?? event.createdAt,
            event.status,
            JSON.stringify(event.sections),
            event.capacity,
            event.minPriceCents,
            event.version,
            event.createdAt,
            event.updatedAt,
          ],
        );
        await writeOutbox(tx, event, outboxType);
      });
    },
    async findById(id, options) {
      const { rows } = await shards.forId(id, options).query<EventRow>(`select ${COLUMNS} from catalogue_events where id = $1`, [id]);
      return rows[0] ? toEvent(rows[0]) : undefined;
    },
    async mutate(id, outboxType, change) {
      return shards.forId(id).transaction(async (tx) => {
        const { rows } = await tx.query<EventRow>(`select ${COLUMNS} from catalogue_events where id = $1 for update`, [id]);
        if (!rows[0]) return undefined;
        const current = toEvent(rows[0]);
        const next = change(current);
        if (!next) return current;
        await tx.query(
          `update catalogue_events set title = $2, venue = $3, starts_at = $4, status = $5, sections = $6::jsonb,
             capacity = $7, min_price_cents = $8, version = $9, updated_at = $10, sales_start_at = $11 where id = $1`,
          [id, next.title, next.venue, next.startsAt, next.status, JSON.stringify(next.sections), next.capacity, next.minPriceCents, next.version, next.updatedAt, next.salesStartAt ?? next.createdAt],
        );
        await writeOutbox(tx, next, outboxType);
        return next;
      });
    },
    async listUpcoming(sql, { now, after, limit }) {
      const params: unknown[] = [now.toISOString(), limit];
      let position = "";
      if (after) {
        params.push(after.startsAt, after.id);
        position = "and (starts_at, id) > ($3::timestamptz, $4::bigint)";
      }
      const { rows } = await sql.query<EventRow>(
        `select ${COLUMNS} from catalogue_events
          where status = 'on_sale' and starts_at > $1::timestamptz ${position}
          order by starts_at, id limit $2`,
        params,
      );
      return rows.map(toEvent);
    },
    async relayOutbox(shard, limit, publish) {
      return shard.transaction(async (tx) => {
        const { rows } = await tx.query<{ id: bigint | string; event_id: bigint | string; type: string; payload: CatalogueEvent | string; traceparent: string | null }>(
          `select id, event_id, type, payload, traceparent from catalogue_outbox where published_at is null and ${NOT_FENCED} order by id limit $1 for update skip locked`,
          [limit],
        );
        if (rows.length === 0) return 0;
        const claimed = rows.map((r) => ({
          id: String(r.id),
          eventId: String(r.event_id),
          type: r.type,
          payload: typeof r.payload === "string" ? (JSON.parse(r.payload) as CatalogueEvent) : r.payload,
          traceparent: r.traceparent ?? undefined,
        }));
        await publish(claimed);
        await tx.query(`update catalogue_outbox set published_at = now() where id = any($1::bigint[])`, [claimed.map((r) => r.id)]);
        return claimed.length;
      });
    },
    async checkShards() {
      return Promise.all(
        shards.all().map(async (sql) => {
          try {
            await sql.query("select 1");
            return { shard: sql.shard, ok: true };
          } catch (error) {
            return { shard: sql.shard, ok: false, error: error instanceof Error ? error.message : String(error) };
          }
        }),
      );
    },
  };
}
