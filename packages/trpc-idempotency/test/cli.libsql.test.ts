import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { drizzle } from 'drizzle-orm/libsql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../src/cli/runCli';
import { migrateSqliteIdempotencyStore, sqliteIdempotencyStore } from '../src/sqlite';
import { libsqlIdempotencyAdmin } from '../src/sqlite/drivers/libsqlAdmin';
import { cliDatabaseCases, runCliCaptured } from './helpers/cli';
import { type HranaServerProcess, startHranaServer } from './helpers/hranaProcess';

let dir: string;
let server: HranaServerProcess;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trpc-idempotency-cli-libsql-'));
  // A remote libSQL database: the Hrana test server standing in for sqld (test/helpers/hranaServer.ts).
  server = await startHranaServer(join(dir, 'remote.db'));
});
afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
  rmSync(dir, { recursive: true, force: true });
});

/** The database at `url`, migrated and emptied, as the shared CLI cases need it. */
async function openDatabase(url: string) {
  const db = drizzle({ connection: { url, timeout: 5000 } });
  await migrateSqliteIdempotencyStore(db);
  await db.$client.execute('DELETE FROM idempotency_records');
  return {
    url,
    store: sqliteIdempotencyStore({ db }),
    countRecords: async () =>
      Number((await db.$client.execute('SELECT count(*) FROM idempotency_records')).rows[0]![0]),
  };
}

describe('trpc-idempotency CLI on a remote libSQL database (DATABASE_URL=libsql://…)', () => {
  cliDatabaseCases(() => openDatabase(server.libsqlUrl));

  it('opens it by its http:// URL too, and says why it cannot open one without the table', async () => {
    const result = await runCliCaptured(['stats', '--json'], { databaseUrl: server.url });
    expect(result).toMatchObject({ code: EXIT.ok, stderr: '' });
    const empty = await startHranaServer(join(dir, 'empty.db'));
    try {
      const missing = await runCliCaptured(['stats'], { databaseUrl: empty.libsqlUrl });
      expect(missing.code).toBe(EXIT.unavailable);
      expect(missing.stderr).toMatch(
        /cannot open libSQL database libsql:\/\/127\.0\.0\.1:\d+\?tls=0: the database has no idempotency_records table/,
      );
    } finally {
      await empty[Symbol.asyncDispose]();
    }
  });

  it('never repeats the token of a URL it cannot open', async () => {
    const result = await runCliCaptured(['stats'], {
      databaseUrl: 'libsql://127.0.0.1:9?tls=0&authToken=secret-token',
    });
    expect(result.code).toBe(EXIT.unavailable);
    expect(result.stderr).toContain('authToken=***');
    expect(result.stderr).not.toContain('secret-token');
  });
});

describe('the libSQL admin on a local libSQL file', () => {
  it('counts, purges and releases there too, and refuses a missing file', async () => {
    const file = join(dir, 'local.db');
    const database = await openDatabase(pathToFileURL(file).href);
    await database.store.claim({
      scope: 'alice',
      key: 'stuck',
      path: 'pay',
      fingerprint: 'f',
      owner: 'o',
      now: 1,
      leaseExpiresAt: 2,
      expiresAt: 100,
    });
    const admin = await libsqlIdempotencyAdmin({ url: pathToFileURL(file).href, mustExist: true });
    try {
      expect(await admin.stats({ now: 10 })).toMatchObject({ total: 1, expiredLeases: 1 });
      expect(await admin.countPurgeable({ now: 10 })).toBe(0);
      expect(await admin.release({ scope: 'alice', key: 'stuck', now: 10, force: false })).toBe(
        'released',
      );
      expect(await admin.purgeBatch({ now: 1000, limit: 10 })).toBe(0);
    } finally {
      await admin.close();
    }
    await expect(
      libsqlIdempotencyAdmin({ url: pathToFileURL(join(dir, 'none.db')).href, mustExist: true }),
    ).rejects.toThrow(/none\.db does not exist/);
  });
});
