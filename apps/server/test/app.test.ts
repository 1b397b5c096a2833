import { auditLedger, newKey, readLedger, waitForInFlight } from '@ledger/testkit';
import { DIALECTS, useFreshDatabases } from '@ledger/testkit/databases';
import type { TRPCError } from '@trpc/server';
import { describe, expect, it } from 'vitest';
import { createLedgerApp, type LedgerAppOptions, openLedgerApp } from '../src/app';
import type { LedgerExecution } from '../src/ledger';
import { ledgerAppResource } from './helpers/ledgerApp';
import { openAccounts, rejection, transferInput } from './helpers/ledgerCalls';

const databases = useFreshDatabases();

describe.each(DIALECTS)('ledger app in process on %s', (dialect) => {
  /** The app on a new, empty database of this dialect. */
  const fresh = async (opts: Omit<LedgerAppOptions, 'databaseUrl'> = {}) =>
    ledgerAppResource({ ...opts, databaseUrl: await databases.create(dialect) });

  it('opens an account once per key and reads it back', async () => {
    await using ledger = await fresh();
    const alice = ledger.caller('alice');
    const input = { idempotencyKey: newKey(), owner: 'Alice', initialBalance: 500 };
    const opened = await alice.accounts.open(input);
    expect(opened).toEqual({
      id: expect.stringMatching(/^acc_[0-9a-f]{16}$/),
      owner: 'Alice',
      balance: 500,
    });
    expect(await alice.accounts.open(input)).toEqual(opened);
    expect(await ledger.count('accounts')).toBe(1);
    // Reads need no user.
    expect(await ledger.caller(null).accounts.get({ id: opened.id })).toEqual(opened);
  });

  it('moves money and lists transfers oldest first on both sides', async () => {
    await using ledger = await fresh();
    const alice = ledger.caller();
    const [a, b] = await openAccounts(alice, 100, 0);
    const first = await alice.transfers.create(transferInput(a, b, 30));
    const second = await alice.transfers.create(transferInput(b, a, 5));
    expect(first).toEqual({
      id: expect.stringMatching(/^tr_[0-9a-f]{16}$/),
      fromAccountId: a.id,
      toAccountId: b.id,
      amount: 30,
      createdAt: expect.any(String),
    });
    expect(new Date(first.createdAt).toISOString()).toBe(first.createdAt);
    expect((await alice.accounts.get({ id: a.id })).balance).toBe(75);
    expect((await alice.accounts.get({ id: b.id })).balance).toBe(25);
    expect(await alice.transfers.list({ accountId: a.id })).toEqual([first, second]);
    expect(await alice.transfers.list({ accountId: b.id })).toEqual([first, second]);
    expect(auditLedger(await readLedger(ledger.databaseUrl))).toEqual([]);
  });

  it('rejects invalid input before the idempotency step: nothing stored, the key stays free', async () => {
    await using ledger = await fresh();
    const alice = ledger.caller();
    const idempotencyKey = newKey();
    for (const input of [
      { owner: '', initialBalance: 1 },
      { owner: 'x'.repeat(101), initialBalance: 1 },
      { owner: 'A', initialBalance: -1 },
      { owner: 'A', initialBalance: 1.5 },
      { owner: 'A', initialBalance: 2 ** 53 },
    ]) {
      const error = await rejection(
        alice.accounts.open({ idempotencyKey, ...input }),
        'BAD_REQUEST',
      );
      expect(error.cause?.name).toBe('ZodError');
    }
    const account = await alice.accounts.open({ idempotencyKey, owner: 'A', initialBalance: 10 });
    for (const input of [
      { fromAccountId: account.id, toAccountId: account.id, amount: 1 },
      { fromAccountId: account.id, toAccountId: 'acc_other', amount: 0 },
      { fromAccountId: account.id, toAccountId: 'acc_other', amount: 2.5 },
      { fromAccountId: '', toAccountId: 'acc_other', amount: 1 },
    ]) {
      await rejection(
        alice.transfers.create({ idempotencyKey: newKey(), ...input }),
        'BAD_REQUEST',
      );
    }
    expect(await ledger.count('idempotency_records')).toBe(1);
    expect(await ledger.count('transfers')).toBe(0);
  });

  it('refuses strings with a lone surrogate (400) in every string input: nothing stored, the key stays free', async () => {
    await using ledger = await fresh();
    const alice = ledger.caller();
    const idempotencyKey = newKey();
    const lonelyIssue = async (promise: Promise<unknown>) => {
      const error = await rejection(promise, 'BAD_REQUEST');
      expect(error.cause?.name).toBe('ZodError');
      return (error.cause as unknown as { issues: Array<{ path: string[]; message: string }> })
        .issues;
    };
    // High or low half alone, at the start, middle or end, or a pair in the wrong order.
    for (const owner of ['a\ud800b', '\udc00', 'Ann \ud83d', '\ude00\ud83d']) {
      expect(
        await lonelyIssue(alice.accounts.open({ idempotencyKey, owner, initialBalance: 1 })),
      ).toEqual([
        expect.objectContaining({ path: ['owner'], message: expect.stringMatching(/surrogate/) }),
      ]);
    }
    // The databases store UTF-8: what they hold must be what the answer (and its replay) says.
    const owner = 'Zoë 😀 \u{1f1eb}\u{1f1f7}';
    const account = await alice.accounts.open({ idempotencyKey, owner, initialBalance: 10 });
    expect(account.owner).toBe(owner);
    expect(await alice.accounts.open({ idempotencyKey, owner, initialBalance: 10 })).toEqual(
      account,
    );
    expect((await alice.accounts.get({ id: account.id })).owner).toBe(owner);
    expect((await readLedger(ledger.databaseUrl)).accounts).toEqual([
      expect.objectContaining({ id: account.id, owner }),
    ]);

    for (const ids of [
      { fromAccountId: `${account.id}\ud800`, toAccountId: 'acc_other' },
      { fromAccountId: account.id, toAccountId: '\udfff' },
    ]) {
      const issues = await lonelyIssue(
        alice.transfers.create({ idempotencyKey: newKey(), ...ids, amount: 1 }),
      );
      expect(issues).toHaveLength(1);
      expect(issues[0]!.message).toMatch(/surrogate/);
    }
    await lonelyIssue(alice.accounts.get({ id: `${account.id}\ud800` }));
    await lonelyIssue(alice.transfers.list({ accountId: '\ud800' }));
    expect(await ledger.count('idempotency_records')).toBe(1);
    expect(await ledger.count('accounts')).toBe(1);
    expect(await ledger.count('transfers')).toBe(0);
  });

  it('keeps completed keys for ttlMs, bound until horizonMs, and stores nothing while a transfer is in flight', async () => {
    const ttlMs = 56_789;
    const horizonMs = 98_765;
    await using ledger = await fresh({ ttlMs, horizonMs, transferDelayMs: 300 });
    const alice = ledger.caller();
    const [a, b] = await openAccounts(alice, 5, 0);
    const records = async () => {
      const query = `SELECT state, response_expires_at_ms - completed_at_ms AS ttl,
        expires_at_ms - completed_at_ms AS horizon FROM idempotency_records`;
      const { database } = ledger.app;
      const rows: Array<Record<string, unknown>> =
        database.kind === 'sqlite'
          ? (database.db.$client.prepare(query).all() as Array<Record<string, unknown>>)
          : database.kind === 'mysql'
            ? ((await database.db.$client.query(query))[0] as Array<Record<string, unknown>>)
            : database.driver === 'postgres.js'
              ? await database.db.$client.unsafe(query)
              : (await database.db.$client.query(query)).rows;
      return rows.map((row) => ({
        state: row['state'],
        ttl: Number(row['ttl']),
        horizon: Number(row['horizon']),
      }));
    };
    const transfer = alice.transfers.create(transferInput(a, b, 1));
    await waitForInFlight(ledger.app, 1);
    // Transactional: the transfer's record is written with its commit, not before.
    expect(await records()).toHaveLength(2);
    await transfer;
    expect(await records()).toEqual(
      Array(3).fill({ state: 'completed', ttl: ttlMs, horizon: horizonMs }),
    );
  });

  it('needs a user for mutations, and stores nothing without one', async () => {
    await using ledger = await fresh();
    const anonymous = ledger.caller(null);
    await rejection(
      anonymous.accounts.open({ idempotencyKey: newKey(), owner: 'A', initialBalance: 1 }),
      'UNAUTHORIZED',
    );
    expect(await ledger.count('idempotency_records')).toBe(0);
  });

  it('stores NOT_FOUND and PRECONDITION_FAILED as final outcomes for their key', async () => {
    await using ledger = await fresh();
    const alice = ledger.caller();
    const [a, b] = await openAccounts(alice, 10, 100);

    const unknown = {
      idempotencyKey: newKey(),
      fromAccountId: a.id,
      toAccountId: 'acc_missing',
      amount: 1,
    };
    const notFound = await rejection(alice.transfers.create(unknown), 'NOT_FOUND');
    expect(notFound.message).toBe('account acc_missing not found');
    await rejection(alice.transfers.create(unknown), 'NOT_FOUND');

    const tooMuch = {
      idempotencyKey: newKey(),
      fromAccountId: a.id,
      toAccountId: b.id,
      amount: 50,
    };
    const refused = await rejection(alice.transfers.create(tooMuch), 'PRECONDITION_FAILED');
    expect(refused.message).toMatch(/^insufficient funds/);
    // The account can pay now, but this key's answer is final: it replays the refusal.
    await alice.transfers.create(transferInput(b, a, 90));
    const replayed = await rejection(alice.transfers.create(tooMuch), 'PRECONDITION_FAILED');
    expect(replayed.message).toBe(refused.message);
    // A new key is a new operation.
    await alice.transfers.create({ ...tooMuch, idempotencyKey: newKey() });
    expect((await alice.accounts.get({ id: a.id })).balance).toBe(50);
  });

  it('checks funds again inside the commit: a check made before it can be stale', async () => {
    // Both transfers pass the early check (SQLite; Postgres has none), then wait; only one can commit.
    await using ledger = await fresh({ transferDelayMs: 100 });
    const alice = ledger.caller();
    const [a, b] = await openAccounts(alice, 100, 0);
    const inputs = [newKey(), newKey()].map((idempotencyKey) => ({
      idempotencyKey,
      fromAccountId: a.id,
      toAccountId: b.id,
      amount: 60,
    }));
    const results = await Promise.allSettled(inputs.map((input) => alice.transfers.create(input)));
    const fulfilled = results.filter((result) => result.status === 'fulfilled');
    const rejected = results.flatMap((result) =>
      result.status === 'rejected' ? [result.reason] : [],
    );
    expect(fulfilled).toHaveLength(1);
    expect(rejected).toHaveLength(1);
    expect((rejected[0] as TRPCError).code).toBe('PRECONDITION_FAILED');
    expect((await alice.accounts.get({ id: a.id })).balance).toBe(40);
    expect(await ledger.count('transfers')).toBe(1);
    // The refusal from inside the commit rolled its writes back and is stored as final.
    const loser = inputs[results.indexOf(results.find((r) => r.status === 'rejected')!)]!;
    await rejection(alice.transfers.create(loser), 'PRECONDITION_FAILED');
    expect(auditLedger(await readLedger(ledger.databaseUrl))).toEqual([]);
  });

  it('refuses ledger writes outside a commit, where they would lack their idempotency record', async () => {
    await using ledger = await fresh();
    const { database } = ledger.app;
    // A "commit" that hands the writes the database itself, outside any transaction.
    const outside = {
      commit: (async (write: (tx: unknown) => unknown) => write(database.db)) as never,
    } satisfies LedgerExecution;
    await expect(
      database.ledger.openAccount(outside, { owner: 'A', initialBalance: 1, openedBy: 'alice' }),
    ).rejects.toThrow(/openAccount must run inside ctx\.idempotency\.commit/);
    await expect(
      database.ledger.transfer(outside, {
        fromAccountId: 'acc_a',
        toAccountId: 'acc_b',
        amount: 1,
        createdBy: 'alice',
      }),
    ).rejects.toThrow(/transfer must run inside ctx\.idempotency\.commit/);
    expect(await ledger.count('accounts')).toBe(0);
  });

  it('close() lets a running transfer finish before closing the database', async () => {
    await using ledger = await fresh({ transferDelayMs: 200 });
    const alice = ledger.caller();
    const [a, b] = await openAccounts(alice, 10, 0);
    const transfer = alice.transfers.create(transferInput(a, b, 10));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const closed = ledger.app.close();
    await expect(transfer).resolves.toMatchObject({ amount: 10 });
    expect(await closed).toEqual({ forced: false });
    const { database } = ledger.app;
    if (database.kind === 'mysql') throw new Error('the app tests run on SQLite and Postgres');
    const closedNow =
      database.kind === 'sqlite'
        ? !database.db.$client.open
        : database.driver === 'node-postgres'
          ? database.db.$client.ended
          : // postgres.js: a query after end() is refused.
            await database.db.$client.unsafe('SELECT 1').then(
              () => false,
              () => true,
            );
    expect(closedNow).toBe(true);
    expect((await readLedger(ledger.databaseUrl)).transfers).toHaveLength(1);
  });

  it('keeps its data and migrations across restarts on the same database', async () => {
    await using ledger = await fresh();
    const opened = await ledger
      .caller()
      .accounts.open({ idempotencyKey: newKey(), owner: 'A', initialBalance: 7 });
    await ledger.app.close();
    const reopened = await openLedgerApp({ databaseUrl: ledger.databaseUrl });
    try {
      expect(
        await reopened.router.createCaller({ userId: 'bob' }).accounts.get({ id: opened.id }),
      ).toEqual(opened);
    } finally {
      await reopened.close();
    }
  });
});

describe('createLedgerApp', () => {
  it('opens SQLite synchronously, and sends a postgres:// URL to openLedgerApp', async () => {
    const app = createLedgerApp({ databaseUrl: await databases.create('sqlite') });
    try {
      expect(app.database.kind).toBe('sqlite');
      expect(app.database.db.$client.open).toBe(true);
    } finally {
      await app.close();
    }
    expect(() => createLedgerApp({ databaseUrl: 'postgres://localhost/ledger' })).toThrow(
      /openLedgerApp/,
    );
  });
});
