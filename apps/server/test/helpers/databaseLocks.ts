import Database from 'better-sqlite3';
import pg from 'pg';
import { databaseKind, sqlitePath } from '../../src/database';
import { PG_APPLICATION_NAME } from '../../src/pg/database';

/**
 * Holds what a transfer from `accountId` must lock, from another connection,
 * until `release()`: SQLite's write lock (`BEGIN IMMEDIATE`), or the account's
 * row lock in Postgres. A transfer meanwhile fails after its busy or lock
 * timeout, a transient failure.
 */
export async function holdWriteLock(opts: { databaseUrl: string; accountId: string }) {
  if (databaseKind(opts.databaseUrl) === 'sqlite') {
    const locker = new Database(sqlitePath(opts.databaseUrl));
    locker.exec('BEGIN IMMEDIATE');
    return {
      async release() {
        locker.exec('ROLLBACK');
        locker.close();
      },
    };
  }
  const client = new pg.Client({ connectionString: opts.databaseUrl });
  await client.connect();
  await client.query('BEGIN');
  await client.query('SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE', [opts.accountId]);
  return {
    async release() {
      await client.query('ROLLBACK');
      await client.end();
    },
  };
}

/** Postgres: the server processes' sessions open on the database (0 once every pool has ended). */
export async function serverSessions(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND application_name = $1`,
      [PG_APPLICATION_NAME],
    );
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}
