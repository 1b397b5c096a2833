import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { integer, sqliteTable } from 'drizzle-orm/sqlite-core';
import {
  type inferSqliteTransaction,
  migrateSqliteIdempotencyStore,
  sqliteIdempotencyStore,
} from '../../src/sqlite';
import { describeIdempotencyStoreConformance } from '../../src/testing';

const probeRows = sqliteTable('conformance_probe', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  value: integer('value').notNull(),
});

describeIdempotencyStoreConformance({
  name: 'sqlite',
  // A real SQLite file per test, migrated with the shipped migrations.
  async createStore() {
    const dir = mkdtempSync(join(tmpdir(), 'trpc-idempotency-conformance-'));
    const db = drizzle(new Database(join(dir, 'store.db')));
    migrateSqliteIdempotencyStore(db);
    db.$client.exec(
      'CREATE TABLE conformance_probe (id INTEGER PRIMARY KEY AUTOINCREMENT, value INTEGER NOT NULL)',
    );
    return {
      store: sqliteIdempotencyStore({ db }),
      probe: {
        write: (tx: inferSqliteTransaction<typeof db>, value) => {
          tx.insert(probeRows).values({ value }).run();
        },
        count: async () => db.$count(probeRows),
      },
      cleanup: async () => {
        db.$client.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
