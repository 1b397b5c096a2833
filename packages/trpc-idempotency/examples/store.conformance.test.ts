// myStore.conformance.test.ts: shown here on the bundled SQLite store; put your store in its place
import Database from 'better-sqlite3';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { integer, sqliteTable } from 'drizzle-orm/sqlite-core';
import {
  type inferSqliteTransaction,
  migrateSqliteIdempotencyStore,
  sqliteIdempotencyStore,
} from 'trpc-idempotency/sqlite';
import { describeIdempotencyStoreConformance } from 'trpc-idempotency/testing';

// A table the suite writes to through commit()'s transaction handle, to check atomicity.
const probe = sqliteTable('probe', { value: integer('value').notNull() });

describeIdempotencyStoreConformance({
  name: 'my-store',
  // A fresh, empty store per test, and a probe table the suite writes through `commit`'s tx.
  async createStore() {
    const db = drizzle(new Database(':memory:'));
    migrateSqliteIdempotencyStore(db);
    db.run(sql`CREATE TABLE probe (value INTEGER NOT NULL)`);
    return {
      store: sqliteIdempotencyStore({ db }),
      probe: {
        write: (tx: inferSqliteTransaction<typeof db>, value: number) => {
          tx.insert(probe).values({ value }).run();
        },
        count: async () => db.$count(probe),
      },
      cleanup: async () => {
        db.$client.close();
      },
    };
  },
});
