import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import {
  type inferSqliteTransaction,
  migrateSqliteIdempotencyStore,
  type SqliteIdempotencyStore,
  sqliteIdempotencyStore,
} from 'trpc-idempotency/sqlite';
import type { OpenLedgerDatabase } from '../database';
import { createSqliteLedger } from './ledger';
import * as schema from './schema';

/** The ledger's Drizzle database on SQLite (better-sqlite3). */
export type SqliteLedgerDatabase = BetterSQLite3Database<typeof schema> & {
  $client: Database.Database;
};

/**
 * An open SQLite ledger: its Drizzle handle, idempotency store and ledger.
 * `close()` closes the connection; SQLite checkpoints the WAL when the last one closes.
 */
export type OpenSqliteDatabase = OpenLedgerDatabase<
  'sqlite',
  SqliteLedgerDatabase,
  SqliteIdempotencyStore<inferSqliteTransaction<SqliteLedgerDatabase>>
>;

/** Where the migrations of the ledger's own tables are (drizzle-kit, `drizzle/sqlite`). */
export const sqliteMigrationsFolder = fileURLToPath(
  new URL('../../drizzle/sqlite', import.meta.url),
);

/**
 * Opens (creating its folder) and migrates a SQLite ledger file; synchronous,
 * like better-sqlite3. WAL lets several processes on this machine share the
 * file; `busyTimeoutMs` is how long a statement waits for another process's
 * write lock (default 5000).
 */
export function openSqliteDatabase(
  file: string,
  opts: { busyTimeoutMs?: number | undefined } = {},
): OpenSqliteDatabase {
  let client: Database.Database;
  try {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    client = new Database(file);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot open the SQLite database ${file}: ${reason}`, { cause: error });
  }
  try {
    client.pragma('foreign_keys = ON');
    // Reads go straight to the mapped file instead of a read() per page that
    // SQLite's 2 MiB page cache misses: a key's lookup costs about the same with
    // a million records as with a thousand (BENCHMARKS.md, growth). Writes still
    // go through the WAL; the mapping grows with the file, up to 1 GiB.
    if (file !== ':memory:') client.pragma(`mmap_size = ${MMAP_BYTES}`);
    const db = drizzle(client, { schema });
    retryAtStartup(() => {
      client.pragma('journal_mode = WAL');
      migrate(db, {
        migrationsFolder: sqliteMigrationsFolder,
        migrationsTable: '__ledger_migrations',
      });
      migrateSqliteIdempotencyStore(db);
    });
    // After the migrations: the store prepares its statements on its table.
    const store = sqliteIdempotencyStore({ db, busyTimeoutMs: opts.busyTimeoutMs });
    return {
      kind: 'sqlite',
      location: file,
      db,
      store,
      ledger: createSqliteLedger({ db }),
      close: async () => {
        client.close();
      },
    };
  } catch (error) {
    client.close();
    throw error;
  }
}

/** How much of the database file SQLite maps into memory (`PRAGMA mmap_size`). */
const MMAP_BYTES = 1024 * 1024 * 1024;

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Runs the start-up steps (WAL, then the ledger's migrations, then the
 * idempotency table's) again while another process starting on the same new
 * file gets in the way. Switching to WAL answers SQLITE_BUSY at once, without
 * waiting, while another connection holds the file. drizzle's migrator reads
 * which migrations ran before it opens its transaction, so two processes may
 * both try the first one: the loser's transaction rolls back whole ("already
 * exists"), and the next round finds the winner's work done. Each step is
 * idempotent, so running them again is safe.
 */
function retryAtStartup(steps: () => void) {
  for (let attempt = 1; ; attempt++) {
    try {
      steps();
      return;
    } catch (error) {
      if (attempt === 50 || !isStartupRace(error)) throw error;
      // Synchronous, like everything better-sqlite3 does; only ever at start.
      Atomics.wait(pause, 0, 0, 20);
    }
  }
}

function isStartupRace(error: unknown) {
  for (let at = error, depth = 0; at instanceof Error && depth < 5; depth++) {
    const code = (at as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('SQLITE_BUSY')) return true;
    if (/already exists/.test(at.message)) return true;
    at = at.cause;
  }
  return false;
}
