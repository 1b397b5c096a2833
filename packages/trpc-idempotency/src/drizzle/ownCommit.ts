import { is, SQL, StringChunk } from 'drizzle-orm';

/** A Drizzle transaction handle: the part this module touches. */
interface TransactionHandle {
  execute(query: unknown): Promise<unknown>;
}

/**
 * After the store sent `COMMIT` itself, in the same message as the completed
 * record: Drizzle's own `COMMIT` would follow when the transaction callback
 * returns (`await tx.execute(sql\`commit\`)` in its node-postgres and mysql2
 * sessions), one round trip more on a connection the pool wants back, for an
 * empty transaction. From here on this transaction handle answers that
 * statement itself; anything else still goes to the database.
 *
 * Should a Drizzle version end its transactions otherwise, its `COMMIT` is
 * sent and finds no transaction open (a warning on Postgres, nothing on
 * MySQL): a round trip after the answer, never a lost write. The round-trip
 * tests of both stores show which of the two happens.
 */
export function endedByStore(tx: unknown): void {
  const handle = tx as TransactionHandle;
  // Whatever `execute` was, inherited or the handle's own.
  const execute = handle.execute;
  handle.execute = (query) => (isCommit(query) ? COMMITTED : execute.call(handle, query));
}

const COMMITTED = Promise.resolve(undefined);

/** Drizzle's `sql\`commit\``: one string chunk that says `commit`. */
function isCommit(query: unknown): boolean {
  if (!is(query, SQL) || query.queryChunks.length !== 1) return false;
  const [chunk] = query.queryChunks;
  return is(chunk, StringChunk) && chunk.value.join('').trim().toLowerCase() === 'commit';
}
