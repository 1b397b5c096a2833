import { fileURLToPath } from 'node:url';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import {
  type inferPgTransaction,
  migratePgIdempotencyStore,
  type PgIdempotencyStore,
  pgIdempotencyStore,
} from 'trpc-idempotency/pg';
import type { OpenLedgerDatabase } from '../database';
import { createPgLedger } from './ledger';
import * as schema from './schema';

/** The ledger's Drizzle database on a node-postgres pool. */
export type PgLedgerDatabase = NodePgDatabase<typeof schema> & { $client: pg.Pool };

/**
 * An open Postgres ledger: its Drizzle handle on a pool, idempotency store and
 * ledger. `close()` ends the pool once the connections in use are released;
 * calling it again is harmless.
 */
export type OpenPostgresDatabase = OpenLedgerDatabase<
  'postgres',
  PgLedgerDatabase,
  PgIdempotencyStore<inferPgTransaction<PgLedgerDatabase>>
>;

/** Options of {@link openPostgresDatabase}. */
export interface OpenPostgresOptions {
  /**
   * Connections in the pool. Transactional mode holds one per execution in
   * flight, also while a duplicate from another process waits on its key.
   * Default 10.
   */
  poolSize?: number | undefined;
  /** How long a transfer waits for the row locks of its accounts, in ms. Default 5000. */
  lockTimeoutMs?: number | undefined;
  /** An idle pooled connection failed (the server restarted, the network dropped it). */
  onPoolError?: ((error: Error) => void) | undefined;
}

/** Sessions show this in `pg_stat_activity`, unless the URL names another. */
export const PG_APPLICATION_NAME = 'ledger-server';

// Session advisory lock id: "ledgerdb" in ASCII, as a bigint.
const MIGRATION_LOCK_ID = '7810759523990398050';
const migrationsFolder = fileURLToPath(new URL('../../drizzle/pg', import.meta.url));

/**
 * Connects a pool to the Postgres database `url` names and applies every
 * migration (the ledger's tables, then the idempotency table). Several
 * processes may start at once: they migrate one at a time, under an advisory
 * lock. Rejects with a message naming the database if it cannot be reached.
 */
export async function openPostgresDatabase(
  url: string,
  opts: OpenPostgresOptions = {},
): Promise<OpenPostgresDatabase> {
  const location = withoutPassword(url);
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize ?? 10,
    application_name: PG_APPLICATION_NAME,
    // Every session's lock wait (a transfer's row locks) is bounded from the start, so no
    // statement per transaction sets it.
    options: `-c lock_timeout=${Math.trunc(opts.lockTimeoutMs ?? 5000)}`,
  });
  // Without a listener, an idle connection's error would crash the process.
  pool.on('error', (error) => opts.onPoolError?.(error));
  let ended: Promise<void> | undefined;
  const close = () => {
    ended ??= pool.end();
    return ended;
  };
  try {
    await migrateLedger(pool);
    const db = drizzle({ client: pool, schema });
    return {
      kind: 'postgres',
      location,
      db,
      store: pgIdempotencyStore({ db }),
      ledger: createPgLedger({ db }),
      close,
    };
  } catch (error) {
    await close();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot open the Postgres database ${location}: ${reason}`, { cause: error });
  }
}

/**
 * Both sets of migrations on one connection, under one advisory lock: the
 * migrators create the `drizzle` schema and their tables with `IF NOT
 * EXISTS`, which two sessions racing can still both attempt. One connection
 * also means a pool of one cannot deadlock on its own lock.
 */
async function migrateLedger(pool: pg.Pool) {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    // Waits for another process's migrations as long as they take (the pool's sessions
    // bound lock waits for requests); RESET gives the pooled session its bound back.
    await client.query('SET lock_timeout = 0');
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    try {
      const db = drizzle({ client });
      await migrate(db, { migrationsFolder, migrationsTable: '__ledger_migrations' });
      await migratePgIdempotencyStore(db);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
      await client.query('RESET lock_timeout');
    }
  } catch (error) {
    broken = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    // A connection that failed mid-migration is discarded, not pooled.
    client.release(broken);
  }
}

/** `postgres://user@host:port/db`: safe to log. */
export function withoutPassword(url: string) {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return 'postgres://…';
  }
}
