import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/libsql';
import { integer, sqliteTable } from 'drizzle-orm/sqlite-core';
import { afterAll, beforeAll, vi } from 'vitest';
import {
  type inferSqliteTransaction,
  migrateSqliteIdempotencyStore,
  sqliteIdempotencyStore,
} from '../../src/sqlite';
import { describeIdempotencyStoreConformance } from '../../src/testing';
import { type HranaServerProcess, startHranaServer } from '../helpers/hranaProcess';

const probeRows = sqliteTable('conformance_probe', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  value: integer('value').notNull(),
});

// The remote code path (`libsql://`, Hrana over HTTP): the client's interactive
// transactions over streams, against the Hrana test server (not sqld, which
// npm does not ship: test/helpers/hranaServer.ts says what it is).
let dir: string;
let server: HranaServerProcess;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trpc-idempotency-libsql-remote-'));
  server = await startHranaServer(join(dir, 'remote.db'));
  const db = drizzle({ connection: { url: server.libsqlUrl } });
  await migrateSqliteIdempotencyStore(db);
  await db.$client.execute(
    'CREATE TABLE conformance_probe (id INTEGER PRIMARY KEY AUTOINCREMENT, value INTEGER NOT NULL)',
  );
  db.$client.close();
});
afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
  rmSync(dir, { recursive: true, force: true });
});

// Every statement is an HTTP request here: fewer purged records and property
// runs than on a file, and more time for them.
vi.setConfig({ testTimeout: 90_000 });

describeIdempotencyStoreConformance({
  name: 'libsql (remote, Hrana over HTTP)',
  purgeRecords: 1500,
  propertyRuns: 40,
  async createStore() {
    const db = drizzle({ connection: { url: server.libsqlUrl } });
    // One database for the whole file: each fixture starts from empty tables.
    await db.$client.batch(['DELETE FROM idempotency_records', 'DELETE FROM conformance_probe']);
    return {
      store: sqliteIdempotencyStore({ db }),
      probe: {
        write: async (tx: inferSqliteTransaction<typeof db>, value) => {
          await tx.insert(probeRows).values({ value });
        },
        count: async () => db.$count(probeRows),
      },
      cleanup: async () => db.$client.close(),
    };
  },
});
