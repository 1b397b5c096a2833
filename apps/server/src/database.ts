import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatabaseUrlError, parseDatabaseUrl } from 'trpc-idempotency/admin';
import type { Ledger } from './ledger';
import type { OpenMysqlDatabase } from './mysql/database';
import type { OpenPostgresDatabase, PgDriverName } from './pg/database';
import { type OpenSqliteDatabase, openSqliteDatabase } from './sqlite/database';

export type { OpenMysqlDatabase } from './mysql/database';
export type {
  OpenNodePostgresDatabase,
  OpenPostgresDatabase,
  OpenPostgresJsDatabase,
  PgDriverName,
} from './pg/database';
export type { OpenSqliteDatabase } from './sqlite/database';

/**
 * An open database: its Drizzle handle, idempotency store and ledger, and how
 * to close them. `kind` tells the dialect apart.
 */
export type OpenDatabase = OpenSqliteDatabase | OpenPostgresDatabase | OpenMysqlDatabase;

/** An open ledger database of one dialect (see {@link OpenDatabase}). */
export interface OpenLedgerDatabase<TKind extends string, TDb, TStore> {
  kind: TKind;
  /** Where it is, for the start-up log line: the file, or the URL without its password. */
  location: string;
  db: TDb;
  store: TStore;
  ledger: Ledger;
  close(): Promise<void>;
}

/** Options of {@link openDatabase}; each applies to one dialect only. */
export interface OpenDatabaseOptions {
  /** SQLite: how long a statement waits for another process's write lock, in ms. Default 5000. */
  busyTimeoutMs?: number | undefined;
  /** Postgres and MySQL: connections in the pool. Default 10. */
  poolSize?: number | undefined;
  /**
   * Postgres and MySQL: how long a transfer waits for its accounts' row locks, in ms
   * (MySQL: whole seconds, rounded up). Default 5000.
   */
  lockTimeoutMs?: number | undefined;
  /** Postgres: an idle pooled connection failed. */
  onPoolError?: ((error: Error) => void) | undefined;
  /** Postgres: the driver, node-postgres (`pg`, the default) or postgres.js (`postgres`). */
  pgDriver?: PgDriverName | undefined;
}

// Thrown for a `DATABASE_URL` the server cannot use: the library's, as the `trpc-idempotency` command reads URLs alike.
export { DatabaseUrlError };

const serverDir = fileURLToPath(new URL('..', import.meta.url));

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
 * Which database a `DATABASE_URL` selects, read by the library's
 * `parseDatabaseUrl` (the same reader as the `trpc-idempotency` command):
 * `postgres://…` or `postgresql://…` Postgres; `mysql://…` MySQL or MariaDB;
 * `file:PATH` or a plain path SQLite. Any other scheme is a {@link DatabaseUrlError}.
 */
export function databaseKind(url: string): OpenDatabase['kind'] {
  return serverTarget(url).kind;
}

/**
 * The URL read by the library, less what the library reads and this server
 * does not run on: a remote libSQL database (the library's SQLite store runs
 * on it; this server's ledger is written for better-sqlite3, Postgres and MySQL).
 */
function serverTarget(url: string) {
  const target = parseDatabaseUrl(url);
  if (target.kind === 'libsql') {
    throw new DatabaseUrlError(
      'the example server runs on a SQLite file (file:PATH or a path), Postgres (postgres://…) or MySQL (mysql://…), not on a remote libSQL database',
    );
  }
  return target;
}

/**
 * Opens the database `url` names and applies every migration (the ledger's
 * tables and the idempotency table): SQLite for `file:PATH` or a plain path
 * (relative paths from the current directory; the folder is created),
 * Postgres for `postgres://…` and `postgresql://…`, MySQL or MariaDB for
 * `mysql://user:password@host:port/database`.
 */
export async function openDatabase(
  url: string,
  opts: OpenDatabaseOptions = {},
): Promise<OpenDatabase> {
  const target = serverTarget(url);
  // Only the selected database's driver is loaded: the others' modules (mysql2, postgres.js and
  // their Drizzle adapters) take about a second to import on a busy machine, and every start
  // pays it, a restart after a crash included.
  if (target.kind === 'postgres') {
    const { openPostgresDatabase } = await import('./pg/database');
    return openPostgresDatabase(target.connectionString, { ...opts, driver: opts.pgDriver });
  }
  if (target.kind === 'mysql') {
    const { openMysqlDatabase } = await import('./mysql/database');
    return openMysqlDatabase(target.uri, {
      poolSize: opts.poolSize,
      lockTimeoutMs: opts.lockTimeoutMs,
    });
  }
  return openSqliteDatabase(absolute(target.path), opts);
}

/**
 * The file a SQLite `DATABASE_URL` names (`file:PATH`, `file:///PATH` or a
 * plain path), absolute; a {@link DatabaseUrlError} for any other URL.
 */
export function sqlitePath(url: string): string {
  const target = serverTarget(url);
  if (target.kind !== 'sqlite') {
    throw new DatabaseUrlError(
      `DATABASE_URL names a ${target.kind === 'mysql' ? 'MySQL' : 'Postgres'} database, not a SQLite file`,
    );
  }
  return absolute(target.path);
}

function absolute(path: string) {
  return path === ':memory:' ? path : resolve(path);
}
