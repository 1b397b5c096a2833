import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { auditLedger, newKey, readLedger, startLedgerServer } from '@ledger/testkit';
import { useFreshDatabases } from '@ledger/testkit/databases';
import { TRPCError } from '@trpc/server';
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../src/database';
import { ledgerAppResource } from './helpers/ledgerApp';
import { transferInput } from './helpers/ledgerCalls';
import { balanceOf, openAccount, read } from './helpers/rawHttp';

// A MariaDB this file starts (Debian's mariadbd on a free port) and stops, or MYSQL_URL's server.
const databases = useFreshDatabases();

/** The ledger server on MySQL (here MariaDB): the same HTTP contract as on SQLite and Postgres. */
describe('the ledger on MySQL', () => {
  it('over HTTP: opens accounts, transfers, replays identically, and replays a refusal as final', async () => {
    await using server = await startLedgerServer({ databaseUrl: await databases.create('mysql') });
    const a = await openAccount(server, 'A', 100);
    const b = await openAccount(server, 'B', 0);

    const input = transferInput(a, b, 40);
    const first = await read(await server.mutate('transfers.create', input));
    expect(first.status).toBe(200);
    expect(first.body.result.data).toMatchObject({ fromAccountId: a, toAccountId: b, amount: 40 });
    const replay = await read(await server.mutate('transfers.create', input));
    expect(replay.status).toBe(200);
    expect(replay.text).toBe(first.text);
    expect(await balanceOf(server, a)).toBe(60);
    expect(await balanceOf(server, b)).toBe(40);

    // Insufficient funds: PRECONDITION_FAILED, stored as the key's final answer.
    const tooMuch = transferInput(a, b, 61);
    const refused = await read(await server.mutate('transfers.create', tooMuch));
    expect(refused.status).toBe(412);
    expect(refused.body.error.data).toMatchObject({ code: 'PRECONDITION_FAILED' });
    expect(refused.body.error.message).toMatch(/insufficient funds/);
    const refusedAgain = await read(await server.mutate('transfers.create', tooMuch));
    expect(refusedAgain.text).toBe(refused.text);

    // Same key, other input: 422, nothing moves.
    const misused = await read(await server.mutate('transfers.create', { ...input, amount: 1 }));
    expect(misused.status).toBe(422);

    const snapshot = await readLedger(server.databaseUrl);
    expect(auditLedger(snapshot)).toEqual([]);
    expect(snapshot.transfers).toHaveLength(1);
    expect(snapshot.accounts.map((account) => account.balance)).toEqual([60, 40]);
    const transferRecords = snapshot.records.filter((r) => r.path === 'transfers.create');
    expect(transferRecords.map((r) => [r.state, r.outcomeKind]).sort()).toEqual([
      ['completed', 'error'],
      ['completed', 'result'],
    ]);
  });

  it('two server processes racing the same keys execute each once', async () => {
    const databaseUrl = await databases.create('mysql');
    // Both start at once: their migrations race too.
    const [one, two] = await Promise.all([
      startLedgerServer({ databaseUrl, env: { LEDGER_TRANSFER_DELAY_MS: '30' } }),
      startLedgerServer({ databaseUrl, env: { LEDGER_TRANSFER_DELAY_MS: '30' } }),
    ]);
    await using _one = one;
    await using _two = two;
    const a = await openAccount(one, 'A', 1000);
    const b = await openAccount(two, 'B', 0);
    const inputs = Array.from({ length: 10 }, (_, i) => transferInput(a, b, i + 1));
    const answers = await Promise.all(
      inputs.flatMap((input) =>
        [one, two].map(async (server) => {
          for (;;) {
            const answer = await read(await server.mutate('transfers.create', input));
            // In progress in the other process past the wait bound: retry the same key.
            if (answer.status !== 409) return answer;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
    for (let i = 0; i < inputs.length; i++) {
      expect(answers[2 * i]!.text).toBe(answers[2 * i + 1]!.text);
    }
    const snapshot = await readLedger(databaseUrl);
    expect(auditLedger(snapshot)).toEqual([]);
    expect(snapshot.transfers).toHaveLength(10);
    expect(await balanceOf(two, b)).toBe(55);
  });

  it('transfers in both directions from two pools at once: no deadlock, no negative balance, money conserved', async () => {
    const databaseUrl = await databases.create('mysql');
    await using one = await ledgerAppResource({ databaseUrl });
    await using two = await ledgerAppResource({ databaseUrl });
    const ids: string[] = [];
    for (const owner of ['A', 'B', 'C']) {
      const account = await one
        .caller()
        .accounts.open({ idempotencyKey: newKey(), owner, initialBalance: 100 });
      ids.push(account.id);
    }
    const outcomes = await Promise.all(
      Array.from({ length: 60 }, (_, i) => {
        const from = ids[i % 3]!;
        const to = ids[(i + 1 + (i % 2)) % 3]!;
        const app = i % 2 === 0 ? one : two;
        return app
          .caller()
          .transfers.create({
            idempotencyKey: newKey(),
            fromAccountId: from,
            toAccountId: to,
            amount: 1 + ((i * 7) % 40),
          })
          .then(
            () => 'moved',
            (error: unknown) => (error instanceof TRPCError ? error.code : String(error)),
          );
      }),
    );
    expect(
      outcomes.filter((outcome) => outcome !== 'moved' && outcome !== 'PRECONDITION_FAILED'),
    ).toEqual([]);
    const snapshot = await readLedger(databaseUrl);
    expect(auditLedger(snapshot)).toEqual([]);
    expect(snapshot.transfers).toHaveLength(outcomes.filter((o) => o === 'moved').length);
    expect(snapshot.accounts.reduce((sum, account) => sum + account.balance, 0)).toBe(300);
  });

  it('migrates once when several processes start at once on a new database', async () => {
    const url = await databases.create('mysql');
    const opened = await Promise.all(Array.from({ length: 4 }, () => openDatabase(url)));
    expect(opened.map((database) => database.kind)).toEqual(['mysql', 'mysql', 'mysql', 'mysql']);
    await Promise.all(opened.map((database) => database.close()));
    const connection = await mysql.createConnection({ uri: url });
    try {
      for (const [table, folder] of [
        ['__ledger_migrations', '../drizzle/mysql'],
        ['__trpc_idempotency_migrations', '../../../packages/trpc-idempotency/drizzle/mysql'],
      ] as const) {
        const journal = JSON.parse(
          readFileSync(join(import.meta.dirname, folder, 'meta/_journal.json'), 'utf8'),
        ) as { entries: unknown[] };
        const [rows] = await connection.query(`SELECT count(*) AS n FROM \`${table}\``);
        expect(Number((rows as Array<{ n: number }>)[0]!.n)).toBe(journal.entries.length);
      }
      const [tables] = await connection.query(
        'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name NOT LIKE "\\_\\_%"',
      );
      expect((tables as Array<{ name: string }>).map((row) => row.name).sort()).toEqual([
        'accounts',
        'idempotency_records',
        'payout_holds',
        'payouts',
        'transfers',
      ]);
    } finally {
      await connection.end();
    }
  });

  it('a MySQL server it cannot reach fails the start with a message naming the database, without its password', async () => {
    await expect(openDatabase('mysql://ledger:secret@127.0.0.1:1/ledger')).rejects.toThrow(
      /^cannot open the MySQL database mysql:\/\/ledger@127\.0\.0\.1:1\/ledger: /,
    );
  });
});
