/**
 * The SQLite store tells its drivers apart by the Drizzle database it is
 * given, and refuses any other with an error that names the supported ones.
 */
import Database from 'better-sqlite3';
import { drizzle as drizzleBetterSqlite3 } from 'drizzle-orm/better-sqlite3';
import { drizzle as drizzleLibsql } from 'drizzle-orm/libsql';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { drizzle as drizzleProxy } from 'drizzle-orm/sqlite-proxy';
import pg from 'pg';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { migrateSqliteIdempotencyStore, sqliteIdempotencyStore } from '../../src/sqlite';

const supported =
  /pass a Drizzle database on better-sqlite3 \(drizzle-orm\/better-sqlite3\) and libSQL \(drizzle-orm\/libsql with @libsql\/client: file:, libsql:\/\/, http\(s\):\/\/, ws\(s\):\/\/\)\. See README\.md#sqlite-drivers/;

describe('the drivers of the SQLite store', () => {
  it('is synchronous on better-sqlite3 and asynchronous on libSQL, in its type too', () => {
    const betterSqlite3 = drizzleBetterSqlite3(new Database(':memory:'));
    expect(migrateSqliteIdempotencyStore(betterSqlite3)).toBe(undefined);
    const store = sqliteIdempotencyStore({ db: betterSqlite3 });
    expect(store.transactionKind).toBe('sync');
    expectTypeOf(store.transactionKind).toEqualTypeOf<'sync'>();
    expectTypeOf<
      ReturnType<typeof migrateSqliteIdempotencyStore<typeof betterSqlite3>>
    >().toEqualTypeOf<undefined>();
    betterSqlite3.$client.close();

    const libsql = drizzleLibsql({ connection: { url: ':memory:' } });
    expectTypeOf(sqliteIdempotencyStore({ db: libsql }).transactionKind).toEqualTypeOf<'async'>();
    expectTypeOf<ReturnType<typeof migrateSqliteIdempotencyStore<typeof libsql>>>().toEqualTypeOf<
      Promise<void>
    >();
    libsql.$client.close();
  });

  it.each([
    ['sqlite-proxy (SqliteRemoteDatabase)', () => drizzleProxy(async () => ({ rows: [] }))],
    ['node-postgres (NodePgDatabase)', () => drizzlePg(new pg.Pool())],
    ['a bare better-sqlite3 connection', () => new Database(':memory:')],
    ['undefined', () => undefined],
  ])('refuses %s, naming the supported drivers', (_, database) => {
    const db = database() as never;
    expect(() => sqliteIdempotencyStore({ db })).toThrow(TypeError);
    expect(() => sqliteIdempotencyStore({ db })).toThrow(supported);
    expect(() => migrateSqliteIdempotencyStore(db)).toThrow(supported);
  });

  it('names the Drizzle driver it was given', () => {
    expect(() =>
      sqliteIdempotencyStore({ db: drizzleProxy(async () => ({ rows: [] })) as never }),
    ).toThrow('sqliteIdempotencyStore: unsupported database (SqliteRemoteDatabase)');
  });
});
