import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { drizzle, type MySql2Database } from 'drizzle-orm/mysql2';
import { migrate } from 'drizzle-orm/mysql2/migrator';
import mysql from 'mysql2/promise';
import {
  type inferMysqlTransaction,
  type MysqlIdempotencyStore,
  migrateMysqlIdempotencyStore,
  mysqlIdempotencyStore,
} from 'trpc-idempotency/mysql';
import type { OpenLedgerDatabase } from '../database';
import { withoutPassword } from '../withoutPassword';
import { createMysqlLedger } from './ledger';
import * as schema from './schema';

/** The ledger's Drizzle database on a mysql2 pool. */
export type MysqlLedgerDatabase = MySql2Database<typeof schema> & { $client: mysql.Pool };

/**
 * An open MySQL or MariaDB ledger: its Drizzle handle on a pool, idempotency
 * store and ledger. `close()` ends the pool; calling it again is harmless.
 */
export type OpenMysqlDatabase = OpenLedgerDatabase<
  'mysql',
  MysqlLedgerDatabase,
  MysqlIdempotencyStore<inferMysqlTransaction<MysqlLedgerDatabase>>
>;

/** Options of {@link openMysqlDatabase}. */
export interface OpenMysqlOptions {
  /** Connections in the pool; one per execution in flight. Default 10. */
  poolSize?: number | undefined;
  /**
   * How long a transfer waits for its accounts' row locks, and a duplicate
   * for a key another execution is committing, in ms (InnoDB counts whole
   * seconds: rounded up). Default 5000.
   */
  lockTimeoutMs?: number | undefined;
}

// A named lock (GET_LOCK, MySQL and MariaDB alike) that processes starting at once take turns on.
const MIGRATION_LOCK = 'ledger_migrations';
const MIGRATION_LOCK_WAIT_S = 60;
const migrationsFolder = fileURLToPath(new URL('../../drizzle/mysql', import.meta.url));

/**
 * Connects a pool to the MySQL or MariaDB database `url` names
 * (`mysql://user:password@host:port/database`) and applies every migration
 * (the ledger's tables, then the idempotency table). Several processes may
 * start at once: they migrate one at a time, under a named lock. Rejects with
 * a message naming the database if it cannot be reached.
 */
export async function openMysqlDatabase(
  url: string,
  opts: OpenMysqlOptions = {},
): Promise<OpenMysqlDatabase> {
  const location = withoutPassword(url);
  const pool = mysql.createPool({
    uri: url,
    connectionLimit: opts.poolSize ?? 10,
    // The idempotency store sends a record's insert and COMMIT in one query when it may:
    // one round trip less per first execution. Every statement here is parameterised.
    multipleStatements: true,
  });
  let ended: Promise<void> | undefined;
  const close = () => {
    ended ??= pool.end();
    return ended;
  };
  try {
    await migrateLedger(pool);
    const db = drizzle({ client: pool, schema, mode: 'default' });
    return {
      kind: 'mysql',
      location,
      db,
      store: mysqlIdempotencyStore({ db, lockTimeoutMs: opts.lockTimeoutMs ?? 5000 }),
      ledger: createMysqlLedger({ db }),
      close,
    };
  } catch (error) {
    await close();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot open the MySQL database ${location}: ${reason}`, { cause: error });
  }
}

/**
 * Both sets of migrations on one connection, under one named lock: DDL
 * commits implicitly in MySQL, so two processes creating the same tables at
 * once would both try; the lock makes the second find them migrated.
 */
async function migrateLedger(pool: mysql.Pool) {
  const connection = await pool.getConnection();
  let broken = false;
  try {
    const db = drizzle({ client: connection });
    const [rows] = (await db.execute(
      sql`SELECT GET_LOCK(${MIGRATION_LOCK}, ${MIGRATION_LOCK_WAIT_S}) AS locked`,
    )) as unknown as [Array<{ locked: number | null }>];
    if (rows[0]?.locked !== 1) {
      throw new Error(`another process held the migration lock for ${MIGRATION_LOCK_WAIT_S} s`);
    }
    try {
      await migrate(db, { migrationsFolder, migrationsTable: '__ledger_migrations' });
      await migrateMysqlIdempotencyStore(db);
    } finally {
      await db.execute(sql`SELECT RELEASE_LOCK(${MIGRATION_LOCK})`);
    }
  } catch (error) {
    broken = true;
    throw error;
  } finally {
    // A connection that failed mid-migration is discarded, not pooled.
    if (broken) connection.destroy();
    else connection.release();
  }
}
