import { fillPlaceholders, sql } from 'drizzle-orm';
import { type AnyPgDatabase, type PgDriver, sessionKind } from './driver';

// Session advisory lock id: "trpcidem" in ASCII, as a bigint.
const MIGRATION_LOCK_ID = '8390892628016915821';

/** The part of a postgres.js `Sql` (the pool, a transaction) the store uses. */
interface SqlLike {
  unsafe(text: string, params?: unknown[], opts?: { prepare?: boolean }): Promise<unknown>;
}

/** The parts of a Drizzle database its own migrator uses (internal to Drizzle, stable since 0.30). */
interface DrizzleInternals {
  dialect: { migrate(migrations: unknown, session: unknown, config: unknown): Promise<void> };
  _: { session: object };
}

/**
 * postgres.js (`drizzle-orm/postgres-js`, npm `postgres`).
 *
 * postgres.js 4 pipelines the queries of a transaction that are not awaited,
 * in order: the record's statements are sent without waiting and `COMMIT`
 * follows them in the same round trip. If the insert fails (the key is
 * taken), the server answers `COMMIT` with `ROLLBACK`; the insert's own error
 * is what this rejects with. On postgres.js 3 they are awaited before
 * `COMMIT`.
 */
export const postgresJs: PgDriver = {
  name: 'postgres.js',
  matches: (db) => sessionKind(db) === 'PostgresJsSession',
  changedRows: (result) => (result as { count?: number | null }).count ?? 0,
  recordCommit({ deleteReplaceable, insertCompleted }) {
    return async (db, work, { waitMs }) => {
      let recordWritten: Promise<unknown> | undefined;
      try {
        const result = await db.transaction(async (tx) => {
          const { result, record } = await work(tx);
          // The transaction's own connection (Drizzle's session on `sql.begin`'s scoped `sql`).
          const client = (tx as unknown as { _: { session: { client: SqlLike } } })._.session
            .client;
          recordWritten = Promise.all([
            client.unsafe(`SET LOCAL lock_timeout = ${waitMs}`),
            client.unsafe(
              deleteReplaceable.sql,
              fillPlaceholders(deleteReplaceable.params, record),
              { prepare: true },
            ),
            client.unsafe(insertCompleted.sql, fillPlaceholders(insertCompleted.params, record), {
              prepare: true,
            }),
          ]);
          // Observed below, once the transaction ended: not an unhandled rejection meanwhile.
          recordWritten.catch(() => {});
          // postgres.js 3 may send COMMIT before queries not awaited (they would then run
          // outside the transaction): there they are awaited, one round trip more. Version 4
          // (which has nested `begin`) sends them in order, COMMIT last.
          if (typeof (client as { begin?: unknown }).begin !== 'function') await recordWritten;
          return result;
        });
        // Rejects also where COMMIT answered ROLLBACK without the transaction rejecting (postgres.js 3).
        await recordWritten;
        return result;
      } catch (error) {
        // The record's own error (the key taken, the lock wait over), not the ROLLBACK it caused.
        const recordError = await recordWritten?.then(
          () => undefined,
          (cause: unknown) => cause,
        );
        throw recordError ?? error;
      }
    };
  },
  async migrate(db, config) {
    const { readMigrationFiles } = await import('drizzle-orm/migrator');
    const migrations = readMigrationFiles(config);
    await db.transaction(async (tx) => {
      // Held to the end of this transaction: another process migrating waits, then finds it done.
      await tx.execute(sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_ID}::bigint)`);
      // postgres.js logs every notice by default (`onnotice`: console.log), and the
      // migrator's `CREATE … IF NOT EXISTS` answer one per existing object at every start.
      await tx.execute(sql`SET LOCAL client_min_messages = warning`);
      // What Drizzle's migrator runs (`db.dialect.migrate(…, db.session, …)`), with its
      // own transaction folded into this one: postgres.js 3 has no nested transactions.
      const { dialect, _ } = tx as unknown as DrizzleInternals;
      const session = Object.create(_.session, {
        transaction: { value: (run: (inner: unknown) => Promise<unknown>) => run(tx) },
      });
      await dialect.migrate(migrations, session, config);
    });
  },
};

/** A pool of two connections on `url` as a Drizzle database (the operations CLI's). */
export async function connectPostgresJs(url: string) {
  const [{ default: postgres }, { drizzle }] = await Promise.all([
    import('postgres'),
    import('drizzle-orm/postgres-js'),
  ]);
  const client = postgres(url, { max: 2, onnotice: () => {} });
  return { db: drizzle({ client }) as AnyPgDatabase, close: () => client.end() };
}
