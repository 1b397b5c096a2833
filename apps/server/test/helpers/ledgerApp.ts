import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLedgerApp, type LedgerAppOptions } from '../../src/app';

/**
 * The ledger app in this process on a fresh SQLite file, with callers per
 * user. `await using` closes it and removes the file.
 */
export function ledgerAppResource(opts: Omit<LedgerAppOptions, 'databaseUrl'> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-app-'));
  const file = join(dir, 'ledger.db');
  const app = createLedgerApp({ ...opts, databaseUrl: `file:${file}` });
  return {
    app,
    file,
    /** A server-side caller for `userId`; `null` is an anonymous request. */
    caller: (userId: string | null = 'alice') =>
      app.router.createCaller({ userId: userId ?? undefined }),
    /** Rows of a table, straight from the database. */
    count(table: 'accounts' | 'transfers' | 'idempotency_records') {
      return (
        app.database.db.$client.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }
      ).n;
    },
    async [Symbol.asyncDispose]() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
