import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  auditLedger,
  type FakeGateway,
  newKey,
  readLedger,
  startFakeGateway,
} from '@ledger/testkit';
import { type DatabaseKind, DIALECTS, useFreshDatabases } from '@ledger/testkit/databases';
import { describe, expect, it } from 'vitest';
import type { LedgerAppOptions } from '../src/app';
import { createLogger } from '../src/logger';
import { ledgerAppResource } from './helpers/ledgerApp';
import { rejection, transferInput } from './helpers/ledgerCalls';
import { type AppLogLine, listeningLedgerApp } from './helpers/listeningApp';

const databases = useFreshDatabases();

/**
 * The ledger app in this process on a fresh database, its log lines kept,
 * paying through `gateway` (default: a fake gateway of its own, closed with it).
 */
async function payoutApp(
  dialect: DatabaseKind,
  opts: { gateway?: FakeGateway } & Omit<LedgerAppOptions, 'databaseUrl'> = {},
) {
  const logs: AppLogLine[] = [];
  const { gateway: given, ...appOpts } = opts;
  const gateway = given ?? (await startFakeGateway());
  const ledger = await ledgerAppResource({
    databaseUrl: await databases.create(dialect),
    payoutGatewayUrl: gateway.url,
    logger: createLogger({
      level: 'info',
      write: (line) => logs.push(JSON.parse(line) as AppLogLine),
    }),
    ...appOpts,
  });
  const alice = ledger.caller('alice');
  return {
    ledger,
    alice,
    gateway,
    /** The idempotency events of `payouts.create`, in order. */
    events: () =>
      logs.filter((line) => line['path'] === 'payouts.create' && line.msg !== 'request failed'),
    /** A payout of `amount` from `account`, with a fresh key. */
    payoutInput: (account: { id: string }, amount: number) => ({
      idempotencyKey: newKey('payout'),
      accountId: account.id,
      amount,
    }),
    async openAccount(balance: number) {
      return alice.accounts.open({
        idempotencyKey: newKey(),
        owner: 'Payee',
        initialBalance: balance,
      });
    },
    async balance(id: string) {
      return (await alice.accounts.get({ id })).balance;
    },
    read: () => readLedger(ledger.databaseUrl),
    /** Expects `account` to hold `balance`, and the ledger's audit to find nothing. */
    async expectConsistent(expected: { account: { id: string }; balance: number }) {
      expect((await alice.accounts.get({ id: expected.account.id })).balance).toBe(
        expected.balance,
      );
      expect(auditLedger(await readLedger(ledger.databaseUrl))).toEqual([]);
    },
    async [Symbol.asyncDispose]() {
      await ledger[Symbol.asyncDispose]();
      if (!given) await gateway.close();
    },
  };
}

describe.each([...DIALECTS, 'mysql'] as const)('payouts.create in process on %s', (dialect) => {
  it('reserves, pays through the gateway with its downstream key and records, in three steps; a retry replays', async () => {
    await using app = await payoutApp(dialect);
    const account = await app.openAccount(1000);
    const input = app.payoutInput(account, 300);

    const payout = await app.alice.payouts.create(input);
    expect(payout).toEqual({
      id: expect.stringMatching(/^po_[0-9a-f]{16}$/),
      accountId: account.id,
      amount: 300,
      gatewayPayoutId: 'gp_1',
      status: 'completed',
    });
    expect(await app.balance(account.id)).toBe(700);
    expect(app.gateway.calls).toEqual([
      {
        path: '/payouts',
        downstreamKey: expect.stringMatching(/^[\w-]{43}$/),
        amount: 300,
        body: { accountId: account.id, amount: 300 },
        pid: process.pid,
        paymentId: 'gp_1',
        repeated: false,
        at: expect.any(Number),
      },
    ]);
    expect(app.events()).toMatchObject([
      {
        msg: 'executed',
        outcome: 'result',
        attempt: 1,
        takenOver: false,
        stepsRun: ['reserve', 'pay', 'record'],
        stepsSkipped: [],
      },
    ]);
    const state = await app.read();
    expect(state.holds).toEqual([
      {
        id: expect.stringMatching(/^hold_/),
        holdKey: expect.any(String),
        accountId: account.id,
        amount: 300,
        state: 'settled',
      },
    ]);
    // The hold's key and the gateway's are both derived from the idempotency key, and differ.
    expect(state.holds[0]!.holdKey).not.toBe(app.gateway.calls[0]!.downstreamKey);
    expect(state.payouts).toEqual([
      {
        id: payout.id,
        holdId: state.holds[0]!.id,
        accountId: account.id,
        amount: 300,
        gatewayPayoutId: 'gp_1',
      },
    ]);
    expect(auditLedger(state)).toEqual([]);

    // A retry replays: the gateway is not called, nothing moves.
    expect(await app.alice.payouts.create(input)).toEqual(payout);
    expect(app.gateway.calls).toHaveLength(1);
    expect(app.events().at(-1)).toMatchObject({ msg: 'replayed', outcome: 'result' });
    expect(await app.balance(account.id)).toBe(700);
    // The key with other input is a 422; a new key is a new payout, with a key of its own at the gateway.
    await rejection(app.alice.payouts.create({ ...input, amount: 301 }), 'UNPROCESSABLE_CONTENT');
    const second = await app.alice.payouts.create({ ...input, idempotencyKey: newKey('payout') });
    expect(second).toMatchObject({ amount: 300, gatewayPayoutId: 'gp_2' });
    expect(new Set(app.gateway.calls.map((call) => call.downstreamKey)).size).toBe(2);
    await app.expectConsistent({ account, balance: 400 });
  });

  it('a key reused after its horizon answers with the payout it made, without asking the gateway again', async () => {
    // A horizon as short as the TTL: no tombstone in between, the key is free at once.
    await using app = await payoutApp(dialect, { ttlMs: 1, horizonMs: 1 });
    const account = await app.openAccount(1000);
    const input = app.payoutInput(account, 120);
    const payout = await app.alice.payouts.create(input);
    await sleep(20);

    // The record expired: the key executes anew, and its reservation finds the settled hold.
    expect(await app.alice.payouts.create(input)).toEqual(payout);
    expect(app.events().at(-1)).toMatchObject({
      msg: 'executed',
      attempt: 1,
      stepsRun: ['reserve'],
    });
    expect(app.gateway.calls).toHaveLength(1);
    expect(await app.balance(account.id)).toBe(880);
    const state = await app.read();
    expect(state.holds).toHaveLength(1);
    expect(state.payouts).toHaveLength(1);
  });

  it('stores NOT_FOUND and PRECONDITION_FAILED as final answers: replayed, nothing reserved, the gateway never called', async () => {
    await using app = await payoutApp(dialect);
    const poor = await app.openAccount(100);
    const rich = await app.openAccount(1000);

    const unknown = { idempotencyKey: newKey('payout'), accountId: 'acc_missing', amount: 5 };
    const notFound = await rejection(app.alice.payouts.create(unknown), 'NOT_FOUND');
    expect(notFound.message).toBe('account acc_missing not found');
    const tooMuch = app.payoutInput(poor, 500);
    const refused = await rejection(app.alice.payouts.create(tooMuch), 'PRECONDITION_FAILED');
    expect(refused.message).toBe(
      `insufficient funds: account ${poor.id} has 100, the payout needs 500`,
    );

    // Funded now, the key still answers what it answered.
    await app.alice.transfers.create(transferInput(rich, poor, 900));
    expect(
      (await rejection(app.alice.payouts.create(tooMuch), 'PRECONDITION_FAILED')).message,
    ).toBe(refused.message);
    expect((await rejection(app.alice.payouts.create(unknown), 'NOT_FOUND')).message).toBe(
      notFound.message,
    );
    expect(app.events().map((event) => [event.msg, event['outcome']])).toEqual([
      ['executed', 'error'],
      ['executed', 'error'],
      ['replayed', 'error'],
      ['replayed', 'error'],
    ]);
    expect(app.gateway.calls).toEqual([]);
    const state = await app.read();
    expect(state.holds).toEqual([]);
    expect(
      state.records.filter((record) => record.path === 'payouts.create').map((r) => r.outcomeKind),
    ).toEqual(['error', 'error']);
    expect(await app.balance(poor.id)).toBe(1000);
    expect(auditLedger(state)).toEqual([]);
  });

  it('refuses invalid input and anonymous callers before the idempotency step: nothing stored, the key stays free', async () => {
    await using app = await payoutApp(dialect);
    const account = await app.openAccount(100);
    const idempotencyKey = newKey('payout');
    for (const input of [
      { accountId: account.id, amount: 0 },
      { accountId: account.id, amount: 1.5 },
      { accountId: account.id, amount: 2 ** 53 },
      { accountId: '', amount: 1 },
      { accountId: 'a\ud800b', amount: 1 },
    ]) {
      await rejection(app.alice.payouts.create({ idempotencyKey, ...input }), 'BAD_REQUEST');
    }
    await rejection(
      app.ledger.caller(null).payouts.create({ idempotencyKey, accountId: account.id, amount: 1 }),
      'UNAUTHORIZED',
    );
    expect(await app.ledger.count('idempotency_records')).toBe(1);
    expect(app.gateway.calls).toEqual([]);
    const payout = await app.alice.payouts.create({
      idempotencyKey,
      accountId: account.id,
      amount: 1,
    });
    expect(payout.amount).toBe(1);
  });

  it('a gateway answering an error is a transient failure: 502, the key released, the amount kept reserved; the retry pays once', async () => {
    await using app = await payoutApp(dialect);
    const account = await app.openAccount(1000);
    const input = app.payoutInput(account, 250);

    app.gateway.failNext(1);
    const failed = await rejection(app.alice.payouts.create(input), 'BAD_GATEWAY');
    expect(failed.message).toBe(
      'the payout gateway answered 503; the amount stays reserved: retry with the same idempotencyKey',
    );
    expect(app.events().at(-1)).toMatchObject({ msg: 'released', attempt: 1 });
    let state = await app.read();
    // Released: no record for the key; the reservation stays for the retry.
    expect(state.records.filter((record) => record.path === 'payouts.create')).toEqual([]);
    expect(state.holds).toMatchObject([{ accountId: account.id, amount: 250, state: 'held' }]);
    expect(await app.balance(account.id)).toBe(750);
    expect(app.gateway.payments).toEqual([]);

    const payout = await app.alice.payouts.create(input);
    expect(payout).toMatchObject({ amount: 250, gatewayPayoutId: 'gp_1' });
    // The retry reserved again under the same hold key: the first hold, nothing moved twice.
    expect(app.events().at(-1)).toMatchObject({
      msg: 'executed',
      attempt: 1,
      stepsRun: ['reserve', 'pay', 'record'],
    });
    state = await app.read();
    expect(state.holds).toMatchObject([{ amount: 250, state: 'settled' }]);
    expect(await app.balance(account.id)).toBe(750);
    expect(app.gateway.payments).toHaveLength(1);
    expect(auditLedger(state)).toEqual([]);
  });

  it('after a released payout, its key with another amount is refused with a stored 422: the reservation was made for the first', async () => {
    await using app = await payoutApp(dialect);
    const account = await app.openAccount(1000);
    const input = app.payoutInput(account, 250);
    app.gateway.failNext(1);
    await rejection(app.alice.payouts.create(input), 'BAD_GATEWAY');

    const other = { ...input, amount: 251 };
    const refused = await rejection(app.alice.payouts.create(other), 'UNPROCESSABLE_CONTENT');
    expect(refused.message).toBe(
      `this idempotencyKey first reserved 250 from account ${account.id} for a payout; use a new key for another payout`,
    );
    expect(app.events().at(-1)).toMatchObject({ msg: 'executed', outcome: 'error' });
    await rejection(app.alice.payouts.create(other), 'UNPROCESSABLE_CONTENT');
    expect(app.events().at(-1)).toMatchObject({ msg: 'replayed', outcome: 'error' });
    // The key is bound to the other input now; the first payout's reservation stays held.
    await rejection(app.alice.payouts.create(input), 'UNPROCESSABLE_CONTENT');
    expect((await app.read()).holds).toMatchObject([{ amount: 250, state: 'held' }]);
    expect(app.gateway.calls).toEqual([]);
  });

  it('a gateway answer without a payout id is a 502 too, and pays nothing on the ledger', async () => {
    const answers: string[] = [];
    const broken = createServer((req, res) => {
      answers.push(String(req.headers['idempotency-key']));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"paid"}');
    });
    await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = broken.address() as AddressInfo;
      await using app = await payoutApp(dialect, { payoutGatewayUrl: `http://127.0.0.1:${port}` });
      const account = await app.openAccount(100);
      const failed = await rejection(
        app.alice.payouts.create({
          idempotencyKey: newKey('payout'),
          accountId: account.id,
          amount: 10,
        }),
        'BAD_GATEWAY',
      );
      expect(failed.message).toMatch(/^the payout gateway answered without a payout id; /);
      expect(answers).toHaveLength(1);
      expect((await app.read()).payouts).toEqual([]);
    } finally {
      broken.closeAllConnections();
      await new Promise((resolve) => broken.close(resolve));
    }
  });

  it('a gateway that cannot be reached is transient too: the retry pays once it is back', async () => {
    const down = await startFakeGateway();
    await down.close();
    await using app = await payoutApp(dialect, { gateway: down });
    const account = await app.openAccount(1000);
    const input = app.payoutInput(account, 40);

    const failed = await rejection(app.alice.payouts.create(input), 'BAD_GATEWAY');
    expect(failed.message).toMatch(/^the payout gateway could not be reached; the amount stays/);
    expect(app.events().at(-1)).toMatchObject({ msg: 'released' });
    expect((await app.read()).holds).toMatchObject([{ amount: 40, state: 'held' }]);

    await using back = await startFakeGateway({ port: down.port });
    expect(await app.alice.payouts.create(input)).toMatchObject({ gatewayPayoutId: 'gp_1' });
    expect(back.payments).toHaveLength(1);
    await app.expectConsistent({ account, balance: 960 });
  });

  it('a gateway that paid but answered too late: the retry gets that payment, not a second one', async () => {
    await using app = await payoutApp(dialect, { payoutGatewayTimeoutMs: 100 });
    const account = await app.openAccount(1000);
    const input = app.payoutInput(account, 70);

    app.gateway.onCall(() => sleep(300));
    const failed = await rejection(app.alice.payouts.create(input), 'BAD_GATEWAY');
    expect(failed.message).toMatch(/^the payout gateway did not answer within 100 ms;/);
    app.gateway.onCall(undefined);
    expect(app.gateway.payments).toHaveLength(1);

    const payout = await app.alice.payouts.create(input);
    expect(payout.gatewayPayoutId).toBe('gp_1');
    // Asked twice with one key: the second call was a no-op answered with the first payment.
    expect(app.gateway.calls.map((call) => call.repeated)).toEqual([false, true]);
    expect(new Set(app.gateway.calls.map((call) => call.downstreamKey)).size).toBe(1);
    expect(app.gateway.payments).toHaveLength(1);
    await app.expectConsistent({ account, balance: 930 });
  });

  it('answers the gateway errors and a server without a gateway over HTTP as written: 502 and 501, not masked', async () => {
    const databaseUrl = await databases.create(dialect);
    await using unconfigured = await listeningLedgerApp({ databaseUrl });
    const opened = await unconfigured.post('accounts.open', {
      idempotencyKey: newKey(),
      owner: 'A',
      initialBalance: 10,
    });
    const accountId = opened.body.result.data.id as string;
    const input = { idempotencyKey: newKey('payout'), accountId, amount: 5 };
    const refused = await unconfigured.post('payouts.create', input);
    expect(refused.status).toBe(501);
    expect(refused.body.error).toMatchObject({
      message:
        'payouts are not configured on this server: it was started without PAYOUT_GATEWAY_URL',
      data: { code: 'NOT_IMPLEMENTED', httpStatus: 501, path: 'payouts.create' },
    });
    expect(refused.body.error.data.requestId).toBeUndefined();
    // Refused before the idempotency step: no record, nothing reserved.
    const state = await readLedger(databaseUrl);
    expect(state.records.map((record) => record.path)).toEqual(['accounts.open']);
    expect(state.holds).toEqual([]);
    await unconfigured[Symbol.asyncDispose]();

    await using gateway = await startFakeGateway();
    await using app = await listeningLedgerApp({ databaseUrl, payoutGatewayUrl: gateway.url });
    gateway.failNext(1);
    const failed = await app.post('payouts.create', input);
    expect(failed.status).toBe(502);
    expect(failed.body.error.message).toBe(
      'the payout gateway answered 503; the amount stays reserved: retry with the same idempotencyKey',
    );
    // Logged at error level for the operator, with the gateway's own answer as a cause.
    expect(app.logs.find((line) => line.msg === 'request failed')).toMatchObject({
      level: 'error',
      path: 'payouts.create',
      code: 'BAD_GATEWAY',
      causes: expect.arrayContaining([expect.stringMatching(/^PayoutGatewayError: /)]),
    });
    const paid = await app.post('payouts.create', input);
    expect(paid.status).toBe(200);
    expect(paid.body.result.data).toMatchObject({ accountId, amount: 5, status: 'completed' });
  });
});
