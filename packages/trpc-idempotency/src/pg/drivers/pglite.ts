import { fillPlaceholders, type Query, type SQL, sql } from 'drizzle-orm';
import { type PgDriver, sessionKind } from './driver';

/**
 * PGlite (`drizzle-orm/pglite`, `@electric-sql/pglite`): Postgres in this
 * process, one connection. Its transactions run one at a time (its queries
 * outside them wait meanwhile), so a concurrent execution of the same key
 * never blocks on the record's insert: it finds the key taken when its turn
 * comes. There is no network, so no round trip to save: the record's
 * statements simply run before Drizzle's `COMMIT`.
 */
export const pglite: PgDriver = {
  name: 'PGlite',
  matches: (db) => sessionKind(db) === 'PgliteSession',
  changedRows: (result) => (result as { affectedRows?: number }).affectedRows ?? 0,
  recordCommit({ deleteReplaceable, insertCompleted }) {
    return (db, work) =>
      db.transaction(async (tx) => {
        const { result, record } = await work(tx);
        await tx.execute(withValues(deleteReplaceable, record));
        await tx.execute(withValues(insertCompleted, record));
        return result;
      });
  },
  async migrate(db, config) {
    // One process holds a PGlite database: no other can migrate it at the same time.
    const { migrate } = await import('drizzle-orm/pglite/migrator');
    await migrate(db as never, config);
  },
};

/** A statement Drizzle built, with its placeholders filled, as SQL to execute. */
function withValues(query: Query, values: Record<string, unknown>): SQL {
  const params = fillPlaceholders(query.params, values);
  const parts = query.sql.split(/\$(\d+)/);
  return sql.join(
    parts.map((part, i) => (i % 2 === 0 ? sql.raw(part) : sql.param(params[Number(part) - 1]))),
  );
}
