// Scatter-gather: ask every physical shard for its best `limit` rows after the cursor, then merge.
// Each shard returns its rows already sorted, so the global page is the first `limit` of the merge.

export interface Page<Row> {
  readonly items: Row[];
  /** Pass back as `cursor` for the next page; null when this was the last page. */
  readonly nextCursor: string | null;
}

export interface ScatterGatherOptions<Row> {
  /** The order every shard sorted by; must be total (end with a unique column such as the id). */
  compare: (a: Row, b: Row) => number;
  limit: number;
  /** Turns the last row of a page into the cursor the shards receive for the next page. */
  cursorOf?: (row: Row) => string;
}

/** Merges already-sorted pages into one sorted list of at most `limit` rows (k-way merge). */
export function mergeSortedPages<Row>(pages: readonly (readonly Row[])[], compare: (a: Row, b: Row) => number, limit: number): Row[] {
  const positions = pages.map(() => 0);
  const out: Row[] = [];
  while (out.length < limit) {
    let best = -1;
    for (let i = 0; i < pages.length; i++) {
      if (positions[i] >= pages[i].length) continue;
      if (best === -1 || compare(pages[i][positions[i]], pages[best][positions[best]]) < 0) best = i;
    }
    if (best === -1) break;
    out.push(pages[best][positions[best]++]);
  }
  return out;
}

/**
 * Runs `fetch(target, { cursor, limit })` on every target at once (e.g. `router.all({ read: true })`);
 * each must return at most `limit` rows strictly after `cursor`, sorted by `compare`.
 */
export async function scatterGather<Target, Row>(
  targets: readonly Target[],
  fetch: (target: Target, page: { cursor: string | null; limit: number }) => Promise<readonly Row[]>,
  options: ScatterGatherOptions<Row> & { cursor?: string | null },
): Promise<Page<Row>> {
  const cursor = options.cursor ?? null;
  if (!Number.isInteger(options.limit) || options.limit < 1) throw new RangeError(`limit must be a positive integer, got ${options.limit}`);
  // Ask for one more than needed: it tells whether another page exists without a second round.
  const pages = await Promise.all(targets.map((t) => fetch(t, { cursor, limit: options.limit + 1 })));
  const merged = mergeSortedPages(pages, options.compare, options.limit + 1);
  const items = merged.slice(0, options.limit);
  const more = merged.length > options.limit;
  const cursorOf = options.cursorOf ?? ((row: Row) => JSON.stringify(row));
  return { items, nextCursor: more && items.length > 0 ? cursorOf(items[items.length - 1]) : null };
}
