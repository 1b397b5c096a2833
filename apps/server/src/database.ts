import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
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
import * as schema from './schema';

/** The ledger's Drizzle database (SQLite through better-sqlite3). */
export type LedgerDatabase = BetterSQLite3Database<typeof schema> & {
  $client: Database.Database;
};

/** An open database: the Drizzle handle, its idempotency store, and how to close both. */
export interface OpenDatabase {
  kind: 'sqlite';
  /** Where the data lives, for the start-up log line. */
  location: string;
  db: LedgerDatabase;
  store: SqliteIdempotencyStore<inferSqliteTransaction<LedgerDatabase>>;
  close(): void;
}

/** Thrown for a `DATABASE_URL` the server cannot use; the message says why. */
export class DatabaseUrlError extends Error {
  override readonly name = 'DatabaseUrlError';
}

const serverDir = fileURLToPath(new URL('..', import.meta.url));
const migrationsFolder = join(serverDir, 'drizzle');

/**
 * The default database: `data/ledger.db` at the repository root, wherever the
 * server is started from. The root is the folder with `pnpm-workspace.yaml`
 * above this package; outside the workspace it is this package's folder.
 */
export function defaultDatabaseUrl(): string {
  let dir = serverDir;
  for (let level = 0; level < 5; level++) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml')))
      return `file:${join(dir, 'data', 'ledger.db')}`;
    dir = dirname(dir);
  }
  return `file:${join(serverDir, 'data', 'ledger.db')}`;
}

/**
 * Opens the database `url` names and applies every migration (the ledger's
 * tables and the idempotency table). `file:PATH` or a plain path selects
 * SQLite, relative paths from the current directory; the folder is created.
 * `postgres://` is recognised but not wired yet. `busyTimeoutMs`: how long
 * a statement waits for another process's write lock (default 5000).
 */
export function openDatabase(url: string, opts: { busyTimeoutMs?: number } = {}): OpenDatabase {
  if (/^postgres(ql)?:\/\//i.test(url)) {
    throw new DatabaseUrlError(
      'Postgres support: not available yet (DATABASE_URL is a postgres:// URL); use a SQLite file path or file:PATH',
    );
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new DatabaseUrlError(
      `unsupported DATABASE_URL scheme in ${JSON.stringify(url)}: use file:PATH, a plain path, or postgres://`,
    );
  }
  return openSqlite(sqlitePath(url), opts.busyTimeoutMs);
}

/** The file a SQLite `DATABASE_URL` names: `file:PATH`, `file://PATH` or a plain path. */
export function sqlitePath(url: string): string {
  const path = url.startsWith('file:') ? url.slice('file:'.length).replace(/^\/\/(?=\/)/, '') : url;
  if (path.trim() === '') throw new DatabaseUrlError('DATABASE_URL names no file');
  if (path === ':memory:') return path;
  return resolve(path);
}

function openSqlite(file: string, busyTimeoutMs: number | undefined): OpenDatabase {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const client = new Database(file);
  try {
    client.pragma('foreign_keys = ON');
    client.pragma('journal_mode = WAL');
    const db = drizzle(client, { schema });
    migrate(db, { migrationsFolder, migrationsTable: '__ledger_migrations' });
    migrateSqliteIdempotencyStore(db);
    // After the migrations: the store prepares its statements on its table.
    const store = sqliteIdempotencyStore({ db, busyTimeoutMs });
    return {
      kind: 'sqlite',
      location: file,
      db,
      store,
      close: () => client.close(),
    };
  } catch (error) {
    client.close();
    throw error;
  }
}
