import type { Client } from '@libsql/client';
import type Database from 'better-sqlite3';
import { entityKind } from 'drizzle-orm';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import type { LibSQLDatabase } from 'drizzle-orm/libsql';
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';

/** A Drizzle database on better-sqlite3 (`drizzle-orm/better-sqlite3`). */
// biome-ignore lint/suspicious/noExplicitAny: any schema the user's database has
export type BetterSqlite3Db = BetterSQLite3Database<any> & { $client: Database.Database };
/** A Drizzle database on libSQL (`drizzle-orm/libsql`, `@libsql/client`). */
// biome-ignore lint/suspicious/noExplicitAny: any schema the user's database has
export type LibsqlDb = LibSQLDatabase<any> & { $client: Client };

/** A Drizzle SQLite database on one of the drivers the SQLite store supports. */
export type AnySqliteDatabase = BetterSqlite3Db | LibsqlDb;

/**
 * How a database's transactions run: synchronously (better-sqlite3, whose
 * `transaction()` refuses an async callback) or asynchronously (libSQL).
 */
export type inferSqliteTransactionKind<TDb> =
  // biome-ignore lint/suspicious/noExplicitAny: any result and schema
  TDb extends BaseSQLiteDatabase<'async', any, any, any> ? 'async' : 'sync';

/** The drivers the SQLite store supports, as the error for any other names them. */
const SUPPORTED =
  'better-sqlite3 (drizzle-orm/better-sqlite3) and libSQL (drizzle-orm/libsql with @libsql/client: file:, libsql://, http(s)://, ws(s)://)';

/**
 * Which supported driver a Drizzle database runs on, from Drizzle's own class
 * name and the driver client's shape; any other is a TypeError that names
 * the supported ones (README.md#sqlite-drivers says why each other is out).
 */
export function sqliteDriverOf(
  db: unknown,
  caller: string,
): { driver: 'better-sqlite3'; db: BetterSqlite3Db } | { driver: 'libsql'; db: LibsqlDb } {
  const kind = drizzleKind(db);
  const client = (db as { $client?: Record<string, unknown> } | undefined)?.$client;
  if (kind === 'BetterSQLite3Database' && typeof client?.['pragma'] === 'function') {
    return { driver: 'better-sqlite3', db: db as BetterSqlite3Db };
  }
  if (
    kind === 'LibSQLDatabase' &&
    typeof client?.['transaction'] === 'function' &&
    typeof client['batch'] === 'function'
  ) {
    return { driver: 'libsql', db: db as LibsqlDb };
  }
  throw new TypeError(
    `${caller}: unsupported database (${kind ?? describe(db)}): pass a Drizzle database on ${SUPPORTED}. See README.md#sqlite-drivers`,
  );
}

function drizzleKind(db: unknown): string | undefined {
  if (typeof db !== 'object' || db === null) return undefined;
  const kind = (db.constructor as { [entityKind]?: unknown } | undefined)?.[entityKind];
  return typeof kind === 'string' ? kind : undefined;
}

function describe(value: unknown) {
  if (value === null || typeof value !== 'object') return String(value);
  return `not a Drizzle database: ${value.constructor?.name ?? 'an object'}`;
}
