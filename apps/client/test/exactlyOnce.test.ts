import {
  auditLedger,
  type FaultKind,
  type LedgerServerProcess,
  newKey,
  randomInt,
  readLedgerFile,
  seededRandom,
  startFaultProxy,
  startLedgerServer,
  waitForInFlight,
} from '@ledger/testkit';
import { TRPCClientError } from '@trpc/client';
import { type IdempotencyRetryInfo, isIdempotencyInProgress } from 'trpc-idempotency/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLedgerClient, type LedgerClientError } from '../src/ledgerClient';

const origin = (server: LedgerServerProcess) => new URL(server.url).origin;
const fastRetries = { baseDelayMs: 5, maxDelayMs: 50, deadlineMs: 30_000 };

/** The typed client with the idempotency link, through a faulty proxy, against the real server. */
describe('the typed client through a faulty proxy', () => {
  let server: LedgerServerProcess;
  beforeAll(async () => {
    server = await startLedgerServer();
  });
  afterAll(async () => {
    await server[Symbol.asyncDispose]();
  });

  async function openAccounts(count: number, balance: number) {
    const client = createLedgerClient({ url: server.url, user: 'setup' });
    return Promise.all(
      Array.from({ length: count }, (_, i) =>
        client.accounts.open.mutate({ owner: `Owner ${i}`, initialBalance: balance }),
      ),
    );
  }

  it('lands every transfer exactly once, batched, with keys the link adds', async () => {
    await using proxy = await startFaultProxy({
      target: origin(server),
      faultRate: 0.35,
      seed: 3,
    });
    const retried = new Set<string>();
    const client = createLedgerClient({
      url: `${proxy.url}/trpc`,
      user: 'alice',
      retry: { ...fastRetries, maxAttempts: 15, random: seededRandom(4) },
      onRetry: ({ idempotencyKey }) => retried.add(idempotencyKey),
    });
    const accounts = await openAccounts(4, 500);
    const executedBefore = server.events('executed').length;
    const random = seededRandom(9);
    const planned = Array.from({ length: 48 }, () => {
      const from = randomInt(random, 0, 3);
      return {
        fromAccountId: accounts[from]!.id,
        toAccountId: accounts[(from + randomInt(random, 1, 3)) % 4]!.id,
        amount: randomInt(random, 1, 150),
      };
    });

    // Eight at a time: calls made together share one HTTP request (httpBatchLink).
    const outcomes: PromiseSettledResult<{ id: string; amount: number }>[] = [];
    for (let i = 0; i < planned.length; i += 8) {
      outcomes.push(
        ...(await Promise.allSettled(
          planned.slice(i, i + 8).map((input) => client.transfers.create.mutate(input)),
        )),
      );
    }

    const expected = new Map(accounts.map((account) => [account.id, 500]));
    const landed = new Set<string>();
    outcomes.forEach((outcome, i) => {
      if (outcome.status === 'rejected') {
        // Only a refusal may fail a call: everything else is retried until it lands.
        expect((outcome.reason as LedgerClientError).data?.code).toBe('PRECONDITION_FAILED');
        return;
      }
      const { fromAccountId, toAccountId, amount } = planned[i]!;
      expect(outcome.value.amount).toBe(amount);
      landed.add(outcome.value.id);
      expected.set(fromAccountId, expected.get(fromAccountId)! - amount);
      expected.set(toAccountId, expected.get(toAccountId)! + amount);
    });

    const direct = createLedgerClient({ url: server.url });
    for (const account of accounts) {
      expect((await direct.accounts.get.query({ id: account.id })).balance).toBe(
        expected.get(account.id),
      );
    }
    const listed = new Set<string>();
    for (const account of accounts) {
      for (const t of await direct.transfers.list.query({ accountId: account.id }))
        listed.add(t.id);
    }
    expect(listed).toEqual(landed);
    expect(server.events('executed').length - executedBefore).toBe(planned.length);
    // Seed 3 breaks the 5th and 6th requests, and the groups make at least six.
    expect(proxy.stats.faults.reset).toBeGreaterThanOrEqual(1);
    expect(proxy.stats.faults.lostResponse).toBeGreaterThanOrEqual(1);
    expect(retried.size).toBeGreaterThan(0);
    expect(auditLedger(readLedgerFile(server.databaseFile))).toEqual([]);
  });

  it('survives each kind of fault in turn, retrying with one key; the server executes once', async () => {
    const script: FaultKind[] = ['lostResponse', 'reset', 'badGateway'];
    await using proxy = await startFaultProxy({ target: origin(server), decide: (n) => script[n] });
    const retries: IdempotencyRetryInfo[] = [];
    const client = createLedgerClient({
      url: `${proxy.url}/trpc`,
      user: 'alice',
      batch: false,
      retry: fastRetries,
      onRetry: (info) => retries.push(info),
    });
    const [a, b] = await openAccounts(2, 100);
    const replayedBefore = server.events('replayed').length;
    const transfer = await client.transfers.create.mutate({
      fromAccountId: a!.id,
      toAccountId: b!.id,
      amount: 60,
    });
    expect(retries.map((retry) => retry.attempt)).toEqual([2, 3, 4]);
    expect(new Set(retries.map((retry) => retry.idempotencyKey)).size).toBe(1);
    // The first attempt ran and its answer was lost; the fourth got it replayed.
    expect(server.events('replayed').length - replayedBefore).toBe(1);
    const direct = createLedgerClient({ url: server.url });
    expect((await direct.accounts.get.query({ id: a!.id })).balance).toBe(40);
    expect(await direct.transfers.list.query({ accountId: a!.id })).toEqual([transfer]);
  });

  it('does not retry a refusal or a reused key', async () => {
    const retries: IdempotencyRetryInfo[] = [];
    const client = createLedgerClient({
      url: server.url,
      user: 'alice',
      retry: fastRetries,
      onRetry: (info) => retries.push(info),
    });
    const [a, b] = await openAccounts(2, 10);
    const idempotencyKey = newKey();
    const refused = await client.transfers.create
      .mutate({ idempotencyKey, fromAccountId: a!.id, toAccountId: b!.id, amount: 11 })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TRPCClientError);
    expect((refused as LedgerClientError).data?.code).toBe('PRECONDITION_FAILED');
    const reused = await client.transfers.create
      .mutate({ idempotencyKey, fromAccountId: a!.id, toAccountId: b!.id, amount: 1 })
      .catch((error: unknown) => error);
    expect((reused as LedgerClientError).data).toMatchObject({
      code: 'UNPROCESSABLE_CONTENT',
      reason: 'IDEMPOTENCY_KEY_REUSED',
    });
    expect(retries).toEqual([]);
  });

  it('sends a user name beyond ASCII as the UTF-8 the server reads', async () => {
    const client = createLedgerClient({ url: server.url, user: 'Łukasz José' });
    const opened = await client.accounts.open.mutate({ owner: 'Ł', initialBalance: 1 });
    expect(opened).toMatchObject({ owner: 'Ł', balance: 1 });
  });

  it('two calls with one key in one batch: one execution, the same answer', async () => {
    const client = createLedgerClient({ url: server.url, user: 'alice' });
    const [a, b] = await openAccounts(2, 100);
    const input = { idempotencyKey: newKey(), fromAccountId: a!.id, toAccountId: b!.id, amount: 7 };
    const [one, two] = await Promise.all([
      client.transfers.create.mutate(input),
      client.transfers.create.mutate(input),
    ]);
    expect(two).toEqual(one);
    expect((await client.accounts.get.query({ id: a!.id })).balance).toBe(93);
  });

  it('splits more calls made together than the server’s batch limit (100) into several requests', async () => {
    const client = createLedgerClient({ url: server.url, user: 'alice' });
    const opened = await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        client.accounts.open.mutate({ owner: `Many ${i}`, initialBalance: i }),
      ),
    );
    expect(opened.map((account) => account.balance)).toEqual(
      Array.from({ length: 150 }, (_, i) => i),
    );
  });
});

describe('the typed client and a key in progress', () => {
  it('retries the 409 after the server’s hint until the first execution answers', async () => {
    // A duplicate joins the running transfer, and gives up after 50 ms with a 409.
    await using server = await startLedgerServer({
      env: {
        LEDGER_TRANSFER_DELAY_MS: '1200',
        IDEMPOTENCY_WAIT_MS: '50',
        IDEMPOTENCY_RETRY_AFTER_MS: '250',
      },
    });
    const setup = createLedgerClient({ url: server.url, user: 'alice' });
    const a = await setup.accounts.open.mutate({ owner: 'A', initialBalance: 100 });
    const b = await setup.accounts.open.mutate({ owner: 'B', initialBalance: 0 });
    const input = { idempotencyKey: newKey(), fromAccountId: a.id, toAccountId: b.id, amount: 30 };

    const first = createLedgerClient({ url: server.url, user: 'alice' }).transfers.create.mutate(
      input,
    );
    await waitForInFlight(server, 1);
    const retries: IdempotencyRetryInfo[] = [];
    const second = await createLedgerClient({
      url: server.url,
      user: 'alice',
      retry: { maxAttempts: 20, baseDelayMs: 5, deadlineMs: 30_000 },
      onRetry: (info) => retries.push(info),
    }).transfers.create.mutate(input);

    expect(second).toEqual(await first);
    expect(retries.length).toBeGreaterThan(0);
    for (const retry of retries) {
      expect(isIdempotencyInProgress(retry.error)).toBe(true);
      expect(retry.delayMs).toBeGreaterThanOrEqual(250);
    }
    expect((await setup.accounts.get.query({ id: a.id })).balance).toBe(70);
  });
});
