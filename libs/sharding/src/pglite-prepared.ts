// Prepared statements on PGlite. `PGlite.query()` sends Parse, Describe, Bind, Describe, Execute and
// Sync for an unnamed statement on every call, each message a separate trip into the WASM Postgres:
// the text is parsed, analysed and planned again every time, and a checkout's CTEs cost more to
// parse and plan than to run. This prepares each text once per database under a name (Parse and
// Describe, once) and then runs it as one trip: Bind, Execute and Sync in one message, the rows
// parsed with the statement's described columns and the database's own type parsers — what the pg
// driver does on a real Postgres with a statement name (connections.ts, `statementNameOf`).
// Runs under the same locks as `PGlite.query()` (or as a transaction's query, inside one), and
// syncs to the file system after a statement outside a transaction, as PGlite does.
import { parse as pgliteParse, protocol, type PGlite, type Results } from "@electric-sql/pglite";

type BackendMessage = Awaited<ReturnType<PGlite["execProtocolStream"]>>[number];

/** A statement prepared on one database: its name, parameter types and the row description its results use. */
interface Prepared {
  readonly name: string;
  readonly paramTypes: readonly number[];
  /** The statement's RowDescription, or undefined for one that returns no rows (INSERT without RETURNING). */
  readonly rowDescription: BackendMessage | undefined;
}

/** Texts prepared per database, at most this many (a text built per call must not grow the cache without end). */
const MAX_PREPARED = 1000;

interface DatabaseStatements {
  readonly byText: Map<string, Prepared>;
  /** Texts that must not be prepared (their prepared form failed in a way a plain query does not). */
  readonly unnamed: Set<string>;
  next: number;
}

const statementsOf = new WeakMap<PGlite, DatabaseStatements>();

function statements(db: PGlite): DatabaseStatements {
  let entry = statementsOf.get(db);
  if (!entry) statementsOf.set(db, (entry = { byText: new Map(), unnamed: new Set(), next: 0 }));
  return entry;
}

function concat(parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** The error the messages carry, as PGlite's own query would throw it (a DatabaseError with the statement attached). */
function failureIn(messages: BackendMessage[], text: string, params: readonly unknown[]): Error | undefined {
  for (const message of messages) {
    if (message.name !== "error") continue;
    const error = message as unknown as Error & { query?: string; params?: unknown };
    error.query = text;
    error.params = params;
    return error;
  }
  return undefined;
}

/** "cached plan must not change result type" (a table altered under a prepared `SELECT *`); "prepared statement … does not exist" (deallocated). */
function isStale(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (code === "0A000" && /cached plan must not change result type/.test(String((error as Error).message))) || code === "26000";
}

/**
 * Runs a parameterised statement on PGlite as a prepared statement. `inTransaction`: the caller is
 * inside `db.transaction()` (it holds the transaction lock, so only the query lock is taken and
 * nothing is synced until the transaction ends). Returns PGlite's own result shape. Past
 * MAX_PREPARED texts, and for a text whose prepared form went stale (a table altered under it),
 * `unprepared` runs it (the caller's `query()`: PGlite's, or its transaction's).
 */
export async function queryPrepared<Row>(
  db: PGlite,
  text: string,
  params: readonly unknown[],
  inTransaction: boolean,
  unprepared: () => Promise<Results<Row>>,
): Promise<Results<Row>> {
  const known = statements(db);
  if (known.unnamed.has(text) || (!known.byText.has(text) && known.byText.size >= MAX_PREPARED)) return unprepared();
  const run = () => db._runExclusiveQuery(() => runPrepared<Row>(db, known, text, params));
  try {
    const result = inTransaction ? await run() : await db._runExclusiveTransaction(run);
    if (!inTransaction) await db.syncToFs();
    return result;
  } catch (error) {
    if (!isStale(error)) throw error;
    // The statement's columns changed (or it is gone): this text runs unprepared from now on. Inside
    // a transaction the error aborted it, so it fails and the caller's retry runs unprepared.
    known.byText.delete(text);
    known.unnamed.add(text);
    if (inTransaction) throw error;
    return unprepared();
  }
}

function serialized(db: PGlite, paramTypes: readonly number[], params: readonly unknown[]): Array<string | null> {
  return params.map((value, i) => {
    if (value === null || value === undefined) return null;
    const serializer = db.serializers[paramTypes[i]];
    return serializer ? serializer(value) : String(value);
  });
}

async function runPrepared<Row>(db: PGlite, known: DatabaseStatements, text: string, params: readonly unknown[]): Promise<Results<Row>> {
  let prepared = known.byText.get(text);
  if (!prepared) {
    const name = `boxoffice_p${known.next++}`;
    const described = await db.execProtocolStream(
      concat([protocol.serialize.parse({ name, text }), protocol.serialize.describe({ type: "S", name }), protocol.serialize.sync()]),
      { syncToFs: false, throwOnError: false },
    );
    const failed = failureIn(described, text, params);
    if (failed) throw failed;
    prepared = {
      name,
      paramTypes: pgliteParse.parseDescribeStatementResults(described),
      rowDescription: described.find((message) => message.name === "rowDescription"),
    };
    known.byText.set(text, prepared);
  }
  const messages = await db.execProtocolStream(
    concat([protocol.serialize.bind({ statement: prepared.name, values: serialized(db, prepared.paramTypes, params) }), protocol.serialize.execute({}), protocol.serialize.sync()]),
    { syncToFs: false, throwOnError: false },
  );
  const error = failureIn(messages, text, params);
  if (error) throw error;
  // The rows come without a description (no Describe per call): the statement's, described once.
  return pgliteParse.parseResults(prepared.rowDescription ? [prepared.rowDescription, ...messages] : messages, db.parsers)[0] as Results<Row>;
}
