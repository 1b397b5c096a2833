import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { integer, pgTable, serial } from 'drizzle-orm/pg-core';
import { drizzle } from 'drizzle-orm/pglite';
import { afterAll, beforeAll, vi } from 'vitest';
import {
  type inferPgTransaction,
  migratePgIdempotencyStore,
  pgIdempotencyStore,
} from '../../src/pg';
import { describeIdempotencyStoreConformance } from '../../src/testing';

const probeRows = pgTable('conformance_probe', {
  id: serial('id').primaryKey(),
  value: integer('value').notNull(),
});

// WebAssembly Postgres runs the suite several times slower than a server: the model check's
// 100 random runs take 15 s on a quiet machine, and more on a busy one.
vi.setConfig({ testTimeout: 120_000 });

// Postgres in this process, in memory: one database for the file.
const client = new PGlite();
const db = drizzle({ client });

beforeAll(async () => {
  await migratePgIdempotencyStore(db);
  await db.execute(
    sql`CREATE TABLE conformance_probe (id serial PRIMARY KEY, value integer NOT NULL)`,
  );
});

afterAll(() => client.close());

describeIdempotencyStoreConformance({
  name: 'postgres (PGlite)',
  // Still several purge batches; 5000 inserts one by one take most of the test timeout in WebAssembly.
  purgeRecords: 2500,
  // Each test starts from empty tables (DELETE: PGlite's TRUNCATE rewrites files, far slower here).
  async createStore() {
    await db.execute(sql`DELETE FROM idempotency_records`);
    await db.execute(sql`DELETE FROM conformance_probe`);
    return {
      store: pgIdempotencyStore({ db }),
      probe: {
        write: async (tx: inferPgTransaction<typeof db>, value) => {
          await tx.insert(probeRows).values({ value });
        },
        count: () => db.$count(probeRows),
      },
    };
  },
});
