import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { newKey } from './helpers/keys';
import { auditLedger, readLedgerFile } from './helpers/ledgerFile';
import { startLedgerServer } from './helpers/ledgerServer';

/** A fresh connection (no keep-alive pool): does the server still accept one? */
function connect(url: string) {
  return new Promise<'accepted' | string>((resolve) => {
    const req = request(`${url}/health`, { agent: false }, (res) => {
      res.resume();
      resolve('accepted');
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    req.end();
  });
}

describe('graceful stop', () => {
  it('on SIGTERM: stops accepting, finishes in-flight transfers, closes the database, exits 0', async () => {
    await using server = await startLedgerServer({ env: { LEDGER_TRANSFER_DELAY_MS: '1500' } });
    const open = async (owner: string) => {
      const response = await server.mutate('accounts.open', {
        idempotencyKey: newKey(),
        owner,
        initialBalance: 1000,
      });
      return ((await response.json()) as { result: { data: { id: string } } }).result.data.id;
    };
    const accounts = [await open('A'), await open('B'), await open('C')];
    const transfers = Array.from({ length: 6 }, (_, i) =>
      server.mutate('transfers.create', {
        idempotencyKey: newKey(),
        fromAccountId: accounts[i % 3]!,
        toAccountId: accounts[(i + 1) % 3]!,
        amount: 10 * (i + 1),
      }),
    );
    // All six are past their checks, holding before their commit.
    for (let tries = 0; ; tries++) {
      const inProgress = readLedgerFile(server.databaseFile).records.filter(
        (record) => record.state === 'in_progress',
      );
      if (inProgress.length === 6) break;
      if (tries > 1000) throw new Error(`only ${inProgress.length} transfers in flight`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }

    const exit = server.stop('SIGTERM');
    await server.waitForLog((line) => line.msg === 'stopping');
    expect(await connect(server.url)).toBe('ECONNREFUSED');

    const responses = await Promise.all(transfers);
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(await exit).toEqual({ code: 0, signal: null });
    expect(server.logs.at(-1)).toMatchObject({ msg: 'stopped', forced: false });

    // The last connection closed cleanly: SQLite checkpointed and removed the write-ahead log.
    expect(existsSync(`${server.databaseFile}-wal`)).toBe(false);
    // Reopened afterwards: every transfer whole, with its completed record.
    const snapshot = readLedgerFile(server.databaseFile);
    expect(snapshot.transfers).toHaveLength(6);
    expect(auditLedger(snapshot)).toEqual([]);
    expect(snapshot.accounts.reduce((sum, account) => sum + account.balance, 0)).toBe(3000);
  });
});
