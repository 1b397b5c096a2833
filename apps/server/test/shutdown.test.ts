import { existsSync } from 'node:fs';
import { request } from 'node:http';
import {
  auditLedger,
  newKey,
  readLedger,
  startLedgerServer,
  waitForInFlight,
} from '@ledger/testkit';
import { DIALECTS, useFreshDatabases } from '@ledger/testkit/databases';
import { describe, expect, it } from 'vitest';
import { serverSessions } from './helpers/databaseLocks';

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

const databases = useFreshDatabases();

describe.each(DIALECTS)('graceful stop on %s', (dialect) => {
  it('on SIGTERM: stops accepting, finishes in-flight transfers, closes the database, exits 0', async () => {
    await using server = await startLedgerServer({
      databaseUrl: await databases.create(dialect),
      env: { LEDGER_TRANSFER_DELAY_MS: '1500' },
    });
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
    await waitForInFlight(server, 6);

    const exit = server.stop('SIGTERM');
    await server.waitForLog((line) => line.msg === 'stopping');
    expect(await connect(server.url)).toBe('ECONNREFUSED');

    const responses = await Promise.all(transfers);
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(await exit).toEqual({ code: 0, signal: null });
    expect(server.logs.at(-1)).toMatchObject({ msg: 'stopped', forced: false });

    if (dialect === 'sqlite') {
      // The last connection closed cleanly: SQLite checkpointed and removed the write-ahead log.
      expect(existsSync(`${server.databaseFile}-wal`)).toBe(false);
    } else {
      // The pool ended: its sessions are gone (their backends exit just after the goodbye).
      let sessions = await serverSessions(server.databaseUrl);
      for (let tries = 0; sessions > 0 && tries < 200; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        sessions = await serverSessions(server.databaseUrl);
      }
      expect(sessions).toBe(0);
    }
    // Read afterwards: every transfer whole, with its completed record.
    const snapshot = await readLedger(server.databaseUrl);
    expect(snapshot.transfers).toHaveLength(6);
    expect(auditLedger(snapshot)).toEqual([]);
    expect(snapshot.accounts.reduce((sum, account) => sum + account.balance, 0)).toBe(3000);
  });
});
