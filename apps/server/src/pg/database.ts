import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type { PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import pg from 'pg';
import type postgres from 'postgres';
import {
  type inferPgTransaction,
  migratePgIdempotencyStore,
  type PgIdempotencyStore,
  pgIdempotencyStore,
} from 'trpc-idempotency/pg';
import type { OpenLedgerDatabase } from '../database';
import { withoutPassword } from '../withoutPassword';
import { createPgLedger } from './ledger';
import * as schema from './schema';

/** The ledger's Drizzle database, on either driver: what the ledger and the store use. */
export type PgLedgerDatabase = PgDatabase<PgQueryResultHKT, typeof schema>;

/** The Postgres drivers the server runs on (`PG_DRIVER`). */
export type PgDriverName = 'node-postgres' | 'postgres.js';

type LedgerStore = PgIdempotencyStore<inferPgTransaction<PgLedgerDatabase>>;

/** An open Postgres ledger through node-postgres: its Drizzle handle on a `pg.Pool`. */
export type OpenNodePostgresDatabase = OpenLedgerDatabase<
  'postgres',
  NodePgDatabase<typeof schema> & { $client: pg.Pool },
  LedgerStore
> & { driver: 'node-postgres' };

/** An open Postgres ledger through postgres.js: its Drizzle handle on a `postgres()` pool. */
export type OpenPostgresJsDatabase = OpenLedgerDatabase<
  'postgres',
  PostgresJsDatabase<typeof schema> & { $client: postgres.Sql },
  LedgerStore
> & { driver: 'postgres.js' };

/**
 * An open Postgres ledger: its Drizzle handle on a pool of the chosen driver,
 * idempotency store and ledger. `close()` ends the pool once the connections
 * in use are released; calling it again is harmless.
 */
export type OpenPostgresDatabase = OpenNodePostgresDatabase | OpenPostgresJsDatabase;

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
  /** The driver: node-postgres (`pg`, the default) or postgres.js (`postgres`). */
  driver?: PgDriverName | undefined;
}

/** Sessions show this in `pg_stat_activity`, unless the URL names another. */
export const PG_APPLICATION_NAME = 'ledger-server';

// Session advisory lock id: "ledgerdb" in ASCII, as a bigint.
const MIGRATION_LOCK_ID = '7810759523990398050';
/** The ledger's drizzle-kit migrations for Postgres (`drizzle/pg`). */
export const pgMigrationsFolder = fileURLToPath(new URL('../../drizzle/pg', import.meta.url));

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
  const lockTimeoutMs = Math.trunc(opts.lockTimeoutMs ?? 5000);
  const database =
    opts.driver === 'postgres.js'
      ? await openPostgresJs(url, { ...opts, lockTimeoutMs })
      : openNodePostgres(url, { ...opts, lockTimeoutMs });
  try {
    await database.migrate();
    return database.opened;
  } catch (error) {
    await database.opened.close();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot open the Postgres database ${location}: ${reason}`, { cause: error });
  }
}

type PoolOptions = OpenPostgresOptions & { lockTimeoutMs: number };

function openNodePostgres(url: string, opts: PoolOptions) {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize ?? 10,
    application_name: PG_APPLICATION_NAME,
    // Every session's lock wait (a transfer's row locks) is bounded from the start, so no
    // statement per transaction sets it.
    options: `-c lock_timeout=${opts.lockTimeoutMs}`,
  });
  // Without a listener, an idle connection's error would crash the process.
  pool.on('error', (error) => opts.onPoolError?.(error));
  let ended: Promise<void> | undefined;
  const db = drizzle({ client: pool, schema });
  const opened: OpenNodePostgresDatabase = {
    kind: 'postgres',
    driver: 'node-postgres',
    location: withoutPassword(url),
    db,
    store: pgIdempotencyStore<PgLedgerDatabase>({ db }),
    ledger: createPgLedger({ db }),
    close: () => {
      ended ??= pool.end();
      return ended;
    },
  };
  return { opened, migrate: () => migrateLedger(pool) };
}

/** postgres.js and its Drizzle adapter are loaded only when `PG_DRIVER` selects it. */
async function openPostgresJs(url: string, opts: PoolOptions) {
  const [{ default: postgres }, { drizzle: drizzlePostgresJs }, { migrate: migratePostgresJs }] =
    await Promise.all([
      import('postgres'),
      import('drizzle-orm/postgres-js'),
      import('drizzle-orm/postgres-js/migrator'),
    ]);
  const client = postgres(url, {
    max: opts.poolSize ?? 10,
    // Every session's lock wait (a transfer's row locks) is bounded from the start.
    connection: { application_name: PG_APPLICATION_NAME, lock_timeout: opts.lockTimeoutMs },
    onnotice: () => {},
  });
  let ended: Promise<void> | undefined;
  const db = drizzlePostgresJs({ client, schema });
  const opened: OpenPostgresJsDatabase = {
    kind: 'postgres',
    driver: 'postgres.js',
    location: withoutPassword(url),
    db,
    store: pgIdempotencyStore<PgLedgerDatabase>({ db }),
    ledger: createPgLedger({ db }),
    close: () => {
      ended ??= client.end();
      return ended;
    },
  };
  // Both sets of migrations in one transaction, under a transaction-level advisory lock (the
  // same id as below): Drizzle's migrators then run in savepoints of it.
  const migrate = () =>
    db.transaction(async (tx) => {
      // Waits for another process's migrations as long as they take.
      await tx.execute(sql`SET LOCAL lock_timeout = 0`);
      await tx.execute(sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_ID}::bigint)`);
      await migratePostgresJs(tx as never, {
        migrationsFolder: pgMigrationsFolder,
        migrationsTable: '__ledger_migrations',
      });
      await migratePgIdempotencyStore(tx);
    });
  return { opened, migrate };
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
      await migrate(db, {
        migrationsFolder: pgMigrationsFolder,
        migrationsTable: '__ledger_migrations',
      });
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
