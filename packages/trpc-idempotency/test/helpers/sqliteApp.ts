import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { it as vitestIt } from 'vitest';
import { migrateSqliteIdempotencyStore, sqliteIdempotencyStore } from '../../src/sqlite';

/** The handler-side table the tests write to, beside the idempotency records. */
export const entries = sqliteTable('entries', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  label: text('label').notNull(),
  amount: integer('amount').notNull(),
});

/**
 * A real SQLite file in a fresh temp folder, migrated, with its store.
 * `await using` removes it all.
 */
export function sqliteTestDatabase() {
  const dir = mkdtempSync(join(tmpdir(), 'trpc-idempotency-'));
  const file = join(dir, 'test.db');
  const open = () => {
    const client = new Database(file);
    return drizzle(client, { schema: { entries } });
  };
  const db = open();
  migrateSqliteIdempotencyStore(db);
  db.$client.exec(
    'CREATE TABLE IF NOT EXISTS entries (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL, amount INTEGER NOT NULL)',
  );
  const store = sqliteIdempotencyStore({ db });
  const opened = [db];
  return {
    file,
    db,
    store,
    /** Another connection and store on the same file: another process, as far as joins go. */
    openSecond() {
      const second = open();
      opened.push(second);
      return { db: second, store: sqliteIdempotencyStore({ db: second }) };
    },
    countEntries: () =>
      (db.$client.prepare('SELECT count(*) AS n FROM entries').get() as { n: number }).n,
    countRecords: () =>
      (db.$client.prepare('SELECT count(*) AS n FROM idempotency_records').get() as { n: number })
        .n,
    [Symbol.dispose]() {
      for (const each of opened) each.$client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type SqliteTestDatabase = ReturnType<typeof sqliteTestDatabase>;

/**
 * vitest's `it` with a `database` fixture: a fresh {@link sqliteTestDatabase}
 * for each test that names it, removed after the test.
 */
export const it = vitestIt.extend<{ database: SqliteTestDatabase }>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this pattern, and this one has none
  database: async ({}, use) => {
    using database = sqliteTestDatabase();
    await use(database);
  },
});

/** A clock tests move by hand. */
export function manualClock(start = Date.UTC(2026, 0, 1)) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

/** A promise with its resolve exposed, to hold a handler at a chosen point. */
export function gate<T = void>() {
  let open!: (value: T) => void;
  const opened = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** Keys that pass the default format. */
export function newKey(label = 'key') {
  return `${label}-${crypto.randomUUID()}`;
}
