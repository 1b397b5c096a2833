import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { auditLedger, newKey, readLedger } from '@ledger/testkit';
import { useFreshDatabases } from '@ledger/testkit/databases';
import { TRPCError } from '@trpc/server';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../src/database';
import { ledgerAppResource } from './helpers/ledgerApp';
import { openAccounts, transferInput } from './helpers/ledgerCalls';

const databases = useFreshDatabases();

/** Postgres specifics of the server: start-up, row locks, the pool. */
describe('the ledger on Postgres', () => {
  it.each(['node-postgres', 'postgres.js'] as const)(
    'migrates once when several processes start at once on a new database (%s)',
    async (pgDriver) => {
      const url = await databases.create('postgres');
      const opened = await Promise.all(
        Array.from({ length: 4 }, () => openDatabase(url, { pgDriver })),
      );
      for (const database of opened)
        expect(database).toMatchObject({ kind: 'postgres', driver: pgDriver });
      await Promise.all(opened.map((database) => database.close()));
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        // Each migration recorded once: as many rows as each migrations folder has migrations.
        for (const [table, folder] of [
          ['__ledger_migrations', '../drizzle/pg'],
          ['__trpc_idempotency_migrations', '../../../packages/trpc-idempotency/drizzle/pg'],
        ] as const) {
          const journal = JSON.parse(
            readFileSync(join(import.meta.dirname, folder, 'meta/_journal.json'), 'utf8'),
          ) as { entries: unknown[] };
          const { rows } = await client.query(`SELECT count(*)::int AS n FROM drizzle."${table}"`);
          expect(rows[0]).toEqual({ n: journal.entries.length });
        }
        const { rows } = await client.query<{ name: string }>(
          "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
        );
        expect(rows.map((row) => row.name)).toEqual([
          'accounts',
          'idempotency_records',
          'payout_holds',
          'payouts',
          'transfers',
        ]);
      } finally {
        await client.end();
      }
    },
  );

  it('opens Postgres for a DATABASE_URL whose scheme is in capitals (POSTGRES://)', async () => {
    const url = await databases.create('postgres');
    const database = await openDatabase(url.replace(/^postgres(ql)?/, 'POSTGRES'));
    try {
      expect(database.kind).toBe('postgres');
    } finally {
      await database.close();
    }
  });

  it('transfers in both directions between the same accounts, from two processes at once: no deadlock, no negative balance, money conserved', async () => {
    const databaseUrl = await databases.create('postgres');
    // Two apps, two pools: two server processes as far as the database can tell.
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
        // Every pair, both ways, over and over: the pattern that deadlocks when
        // transfers lock their payer first.
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
    expect(snapshot.accounts.every((account) => account.balance >= 0)).toBe(true);
  });

  it('six transfers in flight on a pool of one connection queue for it and all complete', async () => {
    // Each execution holds its connection from claim to commit. A handler that
    // also read through the pool before its commit would wait here forever
    // for a second connection; the Postgres ledger checks inside the commit.
    await using ledger = await ledgerAppResource({
      databaseUrl: await databases.create('postgres'),
      poolSize: 1,
      transferDelayMs: 20,
    });
    const alice = ledger.caller();
    const [a, b] = await openAccounts(alice, 60, 0);
    const { database } = ledger.app;
    const pool =
      database.kind === 'postgres' && database.driver === 'node-postgres'
        ? database.db.$client
        : null;
    let mostConnections = 0;
    const sampler = setInterval(() => {
      mostConnections = Math.max(mostConnections, pool!.totalCount);
    }, 5);
    try {
      const transfers = await Promise.all(
        Array.from({ length: 6 }, () => alice.transfers.create(transferInput(a, b, 10))),
      );
      expect(new Set(transfers.map((transfer) => transfer.id)).size).toBe(6);
    } finally {
      clearInterval(sampler);
    }
    expect(mostConnections).toBe(1);
    expect((await alice.accounts.get({ id: a.id })).balance).toBe(0);
  });
});
