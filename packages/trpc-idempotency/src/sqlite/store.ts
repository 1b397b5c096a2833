import type { IdempotencyStore } from '../store/store';
import { type AnySqliteDatabase, type inferSqliteTransactionKind, sqliteDriverOf } from './driver';
import { betterSqlite3Store } from './drivers/betterSqlite3';
import { libsqlStore } from './drivers/libsql';

export type { inferSqliteTransactionKind } from './driver';

/** The transaction handle of a Drizzle SQLite database (better-sqlite3 or libSQL). */
export type inferSqliteTransaction<TDb extends AnySqliteDatabase> = Parameters<
  Parameters<TDb['transaction']>[0]
>[0];

/**
 * Options of {@link sqliteIdempotencyStore}.
 * @see README.md#sqlite
 */
export interface SqliteIdempotencyStoreOptions<TDb extends AnySqliteDatabase> {
  /**
   * Your Drizzle database, on better-sqlite3 or libSQL (README.md#sqlite-drivers).
   * The store shares its connection (better-sqlite3) or client (libSQL).
   */
  db: TDb;
  /**
   * Apply WAL journaling, a busy timeout and `synchronous = NORMAL` to the
   * connection (better-sqlite3); WAL journaling to a local libSQL file.
   * Default true; pass false if you manage pragmas yourself.
   */
  pragmas?: boolean;
  /**
   * better-sqlite3: how long a statement waits for another process's write
   * lock on the file, in ms. Default 5000. On libSQL it is refused: set the
   * client's `timeout` (a local file needs one; README.md#sqlite-drivers).
   */
  busyTimeoutMs?: number;
  /** Records deleted per purge batch. Default 1000. */
  purgeBatchSize?: number;
}

/**
 * The SQLite store: an {@link IdempotencyStore} whose transactions are
 * synchronous on better-sqlite3 (`'sync'`) and asynchronous on libSQL (`'async'`).
 */
export interface SqliteIdempotencyStore<TTx, TKind extends 'sync' | 'async' = 'sync'>
  extends IdempotencyStore<TTx> {
  readonly transactionKind: TKind;
}

/**
 * An idempotency store in SQLite, on the user's own Drizzle database: on
 * better-sqlite3 or on libSQL (a local `file:` database or a remote
 * `libsql://` one, Turso's included), told apart by the database itself.
 * Any other driver is a TypeError that names these two.
 *
 * - better-sqlite3: a transactional first execution is one synchronous
 *   `BEGIN IMMEDIATE` transaction that looks the key up, runs the handler's
 *   writes and inserts the completed record.
 * - libSQL: the transaction is asynchronous, on a connection (a local file)
 *   or a stream (remote) of its own; the completed record is inserted at its
 *   end, with COMMIT in the same round trip to a remote database.
 * @see README.md#sqlite
 */
export function sqliteIdempotencyStore<TDb extends AnySqliteDatabase>(
  opts: SqliteIdempotencyStoreOptions<TDb>,
): SqliteIdempotencyStore<inferSqliteTransaction<TDb>, inferSqliteTransactionKind<TDb>> {
  const { db, ...options } = opts;
  const target = sqliteDriverOf(db, 'sqliteIdempotencyStore');
  const store =
    target.driver === 'libsql'
      ? libsqlStore<inferSqliteTransaction<TDb>>(target.db, options)
      : betterSqlite3Store<inferSqliteTransaction<TDb>>(target.db, options);
  return store as SqliteIdempotencyStore<
    inferSqliteTransaction<TDb>,
    inferSqliteTransactionKind<TDb>
  >;
}
