import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { drizzle } from 'drizzle-orm/libsql';
import { integer, sqliteTable } from 'drizzle-orm/sqlite-core';
import { vi } from 'vitest';
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

// Every commit is synced to disk (libSQL keeps `synchronous = FULL`): the
// batch purge's and the property test's thousands of records take longer.
vi.setConfig({ testTimeout: 120_000 });

describeIdempotencyStoreConformance({
  name: 'libsql (file)',
  // A real libSQL file per test, through @libsql/client, migrated with the shipped migrations.
  async createStore() {
    const dir = mkdtempSync(join(tmpdir(), 'trpc-idempotency-libsql-conformance-'));
    const db = drizzle({
      connection: { url: pathToFileURL(join(dir, 'store.db')).href, timeout: 5000 },
    });
    await migrateSqliteIdempotencyStore(db);
    await db.$client.execute(
      'CREATE TABLE conformance_probe (id INTEGER PRIMARY KEY AUTOINCREMENT, value INTEGER NOT NULL)',
    );
    return {
      store: sqliteIdempotencyStore({ db }),
      probe: {
        write: async (tx: inferSqliteTransaction<typeof db>, value) => {
          await tx.insert(probeRows).values({ value });
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
