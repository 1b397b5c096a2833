import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { exampleFolder, loadExample } from './helpers/examples';
import { type HranaServerProcess, startHranaServer } from './helpers/hranaProcess';
import { newKey } from './helpers/sqliteApp';

/** The libSQL example's `order` procedure, called as `userId`. */
async function orderCaller(instance: string) {
  const example = await loadExample('libsql.ts', { instance });
  const { t } = await loadExample('quickstart/router.ts');
  const caller = t.createCallerFactory(t.router({ order: example.order }))({ userId: 'alice' });
  return { ...example, caller };
}

describe('the libSQL example', () => {
  let folder: ReturnType<typeof exampleFolder>;
  let server: HranaServerProcess | undefined;
  beforeAll(async () => {
    folder = exampleFolder();
    server = await startHranaServer(join(folder.dir, 'remote.db'));
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await server?.[Symbol.asyncDispose]();
    folder[Symbol.dispose]();
  });

  it.each([
    ['a local file (file:…)', 'file', () => pathToFileURL(join(folder.dir, 'app.db')).href],
    ['a remote database (libsql://…, the Hrana test server)', 'remote', () => server!.libsqlUrl],
  ])('on %s: migrates, commits with an async callback, and replays', async (_, instance, url) => {
    vi.stubEnv('TURSO_DATABASE_URL', url());
    const { db, store, caller } = await orderCaller(instance);
    try {
      expect(store.transactionKind).toBe('async');
      const idempotencyKey = newKey();
      const first = await caller.order({ idempotencyKey, item: 'book' });
      expect(first).toEqual({ orderId: expect.any(Number) });
      expect(await caller.order({ idempotencyKey, item: 'book' })).toEqual(first);
      const { rows } = await db.$client.execute('SELECT count(*) AS n FROM orders');
      expect(rows[0].n).toBe(1);
    } finally {
      db.$client.close();
    }
  });
});
