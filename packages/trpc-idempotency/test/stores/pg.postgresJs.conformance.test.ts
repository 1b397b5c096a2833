import { sql } from 'drizzle-orm';
import { integer, pgTable, serial } from 'drizzle-orm/pg-core';
import { beforeAll } from 'vitest';
import { type inferPgTransaction, pgIdempotencyStore } from '../../src/pg';
import { describeIdempotencyStoreConformance } from '../../src/testing';
import { type PostgresJsTestDb, usePostgresDatabase } from './postgres';

const probeRows = pgTable('conformance_probe', {
  id: serial('id').primaryKey(),
  value: integer('value').notNull(),
});

const postgres = usePostgresDatabase();
let db: PostgresJsTestDb;

beforeAll(async () => {
  db = postgres.connectPostgresJs();
  await db.execute(
    sql`CREATE TABLE conformance_probe (id serial PRIMARY KEY, value integer NOT NULL)`,
  );
});

describeIdempotencyStoreConformance({
  name: 'postgres (postgres.js)',
  // One database for the file; each test starts from empty tables.
  async createStore() {
    await db.execute(sql`TRUNCATE idempotency_records, conformance_probe`);
    return {
      store: pgIdempotencyStore({ db }),
      probe: {
        write: async (tx: inferPgTransaction<PostgresJsTestDb>, value) => {
          await tx.insert(probeRows).values({ value });
        },
        count: () => db.$count(probeRows),
      },
    };
  },
});
