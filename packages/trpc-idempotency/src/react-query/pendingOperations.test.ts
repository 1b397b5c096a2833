import 'fake-indexeddb/auto';
import { hashKey, MutationObserver, onlineManager, QueryClient } from '@tanstack/react-query';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import { createTRPCOptionsProxy } from '@trpc/tanstack-react-query';
import { createStore, entries, get, set, type UseStore } from 'idb-keyval';
import { afterEach, describe, expect, vi } from 'vitest';
import { itServing } from '../../test/helpers/httpServer';
import { ledgerApp } from '../../test/helpers/ledgerApp';
import type { SqliteTestDatabase } from '../../test/helpers/sqliteApp';
import { t } from '../../test/helpers/trpc';
import { idempotencyLink } from '../client/idempotencyLink';
import { FALLBACK_HORIZON_MS, learnServerHorizon } from '../shared/retention';
import {
  getIdempotencyKey,
  idempotentMutationOptions,
  MissingIdempotencyKeyError,
} from './idempotentMutationOptions';
import { isAlreadyDone, type OutcomeUnknownError, operationStateOf } from './operationState';
import { createPendingOperations } from './pendingOperations';

/** The operations persisted in `store`, without the entry that keeps the server's horizon. */
async function operationsIn(store: UseStore) {
  return (await entries(store)).filter(([id]) => Array.isArray(id));
}

/** A page with nothing learned yet (the board lives on `globalThis`). */
function resetLearnedHorizon() {
  delete (globalThis as Record<symbol, unknown>)[Symbol.for('trpc-idempotency.retention')];
}

/**
 * The tests' ledger (test/helpers/ledgerApp.ts), its `pay` alone: the browser
 * names every idempotent procedure it calls.
 */
function payments(database: SqliteTestDatabase) {
  const ledger = ledgerApp(database.store);
  return { ...ledger, router: t.router({ pay: ledger.pay }) };
}
type PaymentsRouter = ReturnType<typeof payments>['router'];

/**
 * A browser session of the app: its own QueryClient and tRPC client (as after
 * a reload), a link that may lose responses after the server answered them,
 * and the keys of every request sent.
 */
function session(opts: {
  url: string;
  store: UseStore;
  namespace?: string;
  user?: string;
  retryWaitingMs?: number;
}) {
  const sent: Array<string | undefined> = [];
  let responsesToLose = 0;
  let failRequests = false;
  const queryClient = new QueryClient();
  // As QueryClientProvider does: paused mutations resume when the browser is back online.
  queryClient.mount();
  const client = createTRPCClient<PaymentsRouter>({
    links: [
      idempotencyLink({ procedures: { pay: true }, maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 2 }),
      httpLink({
        url: opts.url,
        headers: { 'x-user-id': opts.user ?? 'alice' },
        async fetch(url, init) {
          sent.push(getIdempotencyKey(JSON.parse(String(init?.body ?? 'null'))));
          if (failRequests) throw new TypeError('fetch failed');
          const response = await fetch(url, init);
          if (responsesToLose > 0) {
            responsesToLose--;
            await response.text();
            throw new TypeError('fetch failed: connection reset after the answer');
          }
          return response;
        },
      }),
    ],
  });
  const trpc = createTRPCOptionsProxy<PaymentsRouter>({ client, queryClient });
  const storageErrors: unknown[] = [];
  const pending = createPendingOperations<PaymentsRouter>({
    queryClient,
    namespace: opts.namespace ?? 'alice',
    store: opts.store,
    procedures: { pay: trpc.pay.mutationOptions() },
    onStorageError: (error) => storageErrors.push(error),
    // Waiting operations are tried again only where a test says so.
    retryWaitingMs: () => opts.retryWaitingMs ?? 60_000,
  });
  // As PendingOperationsProvider does while mounted.
  const stop = pending.start();
  const fast = { retryDelay: 1 };
  return {
    queryClient,
    trpc,
    pending,
    stop,
    sent,
    storageErrors,
    loseResponses(count: number) {
      responsesToLose = count;
    },
    /** Every request fails before reaching the server (the network is gone). */
    cutNetwork(cut: boolean) {
      failRequests = cut;
    },
    /** `mutate` as `useMutation` does it, through a MutationObserver; `retry` as TanStack's option. */
    pay(variables: { amount: number; idempotencyKey?: string }, retry?: number) {
      const observer = new MutationObserver(
        queryClient,
        pending.mutationOptions({
          ...trpc.pay.mutationOptions(),
          ...fast,
          ...(retry === undefined ? {} : { retry }),
        }),
      );
      return observer.mutate(variables as never);
    },
  };
}

let storeCount = 0;

/**
 * Each test's own ledger served over HTTP, the browser's storage (an IndexedDB
 * store of its own), and a first browser session on them.
 */
const test = itServing(payments)
  .extend('store', () => createStore(`pending-test-${++storeCount}`, 'pending-operations'))
  .extend('browser', ({ server, store }) => session({ url: server.url, store }));

afterEach(() => {
  onlineManager.setOnline(true);
  resetLearnedHorizon();
});

describe('one key per logical operation, whoever retries', () => {
  test('TanStack retry over the link, six responses lost in a row: one execution, one key', async ({
    database,
    app,
    browser,
  }) => {
    browser.loseResponses(6);

    const result = await browser.pay({ amount: 7, idempotencyKey: 'operation-0000000001' }, 3);

    expect(result).toEqual({ id: 1, label: 'pay', amount: 7 });
    expect(database.countEntries()).toBe(1);
    expect(app.executed).toEqual(['operation-0000000001']);
    // 5 link attempts lost, TanStack retried, the 7th request answered (a replay).
    expect(browser.sent).toHaveLength(7);
    expect(new Set(browser.sent)).toEqual(new Set(['operation-0000000001']));
  });

  test('without a key in the variables the mutation fails before anything is sent', async ({
    app,
    server,
  }) => {
    const queryClient = new QueryClient();
    const client = createTRPCClient<PaymentsRouter>({
      links: [idempotencyLink({ procedures: { pay: true } }), httpLink({ url: server.url })],
    });
    const trpc = createTRPCOptionsProxy<PaymentsRouter>({ client, queryClient });
    const observer = new MutationObserver(
      queryClient,
      idempotentMutationOptions(trpc.pay.mutationOptions()),
    );

    // A type error too; from JavaScript, or past a cast, it fails before anything is sent.
    // @ts-expect-error the key is required in the variables
    const error = await observer.mutate({ amount: 1 }).catch((err: unknown) => err);

    expect(error).toBeInstanceOf(MissingIdempotencyKeyError);
    expect((error as Error).message).toBe(
      'idempotent mutation `pay` was called without `idempotencyKey` in its variables: call it through useIdempotentMutation, or pass a key you keep for the whole operation',
    );
    expect(app.executed).toEqual([]);
  });

  test('by default a final error is not retried by TanStack Query', async ({ browser }) => {
    const error = await browser
      .pay({ amount: 5000, idempotencyKey: 'operation-0000000002' })
      .catch((err: unknown) => err);

    expect(error).toBeInstanceOf(TRPCClientError);
    expect((error as TRPCClientError<PaymentsRouter>).data?.code).toBe('PRECONDITION_FAILED');
    expect(browser.sent).toHaveLength(1);
  });
});

describe('pending operations survive a reload', () => {
  test('in flight when the page closed: resumed with its key, executed once, result shown', async ({
    database,
    app,
    server,
    store,
    browser,
  }) => {
    const handlerHeld = app.holdHandlers();

    const firstAttempt = browser.pay({ amount: 12, idempotencyKey: 'operation-0000000003' });
    firstAttempt.catch(() => {});
    await vi.waitUntil(() => app.executed.length === 1);
    // Persisted before the request left.
    expect((await operationsIn(store)).map(([id]) => id)).toEqual([
      ['alice', 'operation-0000000003'],
    ]);

    // The page reloads: a new session on the same storage; the old one never hears back.
    browser.cutNetwork(true);
    const after = session({ url: server.url, store });
    const [resumed, ...others] = await after.pending.resume();
    expect(others).toEqual([]);
    handlerHeld.open();
    await vi.waitUntil(() => resumed?.state.status === 'success', { timeout: 5000 });

    expect(resumed?.state.data).toEqual({ id: 1, label: 'pay', amount: 12 });
    expect(resumed?.state.variables).toEqual({
      amount: 12,
      idempotencyKey: 'operation-0000000003',
    });
    expect(database.countEntries()).toBe(1);
    expect(app.executed).toEqual(['operation-0000000003']);
    expect(after.sent).toEqual(['operation-0000000003']);
    expect(await operationsIn(store)).toEqual([]);
  });

  test('queued while offline: persisted though never sent, resumed once online', async ({
    database,
    server,
    store,
    browser,
  }) => {
    onlineManager.setOnline(false);
    browser.pay({ amount: 3, idempotencyKey: 'operation-0000000004' }).catch(() => {});
    await vi.waitUntil(async () => (await operationsIn(store)).length === 1);
    expect(browser.sent).toEqual([]);

    const after = session({ url: server.url, store });
    const [resumed] = await after.pending.resume();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(resumed?.state.isPaused).toBe(true);
    expect(after.sent).toEqual([]);

    onlineManager.setOnline(true);
    await vi.waitUntil(() => resumed?.state.status === 'success', { timeout: 5000 });
    expect(database.countEntries()).toBe(1);
    expect(after.sent).toEqual(['operation-0000000004']);
    expect(await operationsIn(store)).toEqual([]);
  });

  test('kept while the outcome is unknown, removed once it is known', async ({
    database,
    store,
    browser,
  }) => {
    browser.cutNetwork(true);
    await browser.pay({ amount: 1, idempotencyKey: 'operation-0000000005' }, 1).catch(() => {});
    expect((await operationsIn(store)).map(([id]) => id)).toEqual([
      ['alice', 'operation-0000000005'],
    ]);

    browser.cutNetwork(false);
    await browser.pay({ amount: 5000, idempotencyKey: 'operation-0000000006' }).catch(() => {});
    await browser.pay({ amount: 1, idempotencyKey: 'operation-0000000005' });
    expect(await operationsIn(store)).toEqual([]);
    expect(database.countEntries()).toBe(1);
  });

  test("resumes only its own namespace's operations", async ({ app, server, store }) => {
    const alice = session({ url: server.url, store, namespace: 'alice' });
    alice.cutNetwork(true);
    await alice.pay({ amount: 2, idempotencyKey: 'operation-0000000007' }, 0).catch(() => {});

    const bob = session({ url: server.url, store, namespace: 'bob', user: 'bob' });
    expect(await bob.pending.resume()).toEqual([]);
    expect(bob.sent).toEqual([]);

    const aliceAgain = session({ url: server.url, store, namespace: 'alice' });
    const [resumed] = await aliceAgain.pending.resume();
    await vi.waitUntil(() => resumed?.state.status === 'success', { timeout: 5000 });
    expect(app.executed).toEqual(['operation-0000000007']);
  });

  test('does not resume an operation this cache is already running', async ({ app, browser }) => {
    const handlerHeld = app.holdHandlers();

    const paid = browser.pay({ amount: 4, idempotencyKey: 'operation-0000000008' });
    await vi.waitUntil(() => app.executed.length === 1);
    expect(await browser.pending.resume()).toEqual([]);
    handlerHeld.open();
    await paid;
    expect(browser.sent).toEqual(['operation-0000000008']);
  });

  test('a stored operation of a procedure not registered is left in storage and reported', async ({
    store,
    browser,
  }) => {
    browser.cutNetwork(true);
    await browser.pay({ amount: 2, idempotencyKey: 'operation-0000000009' }, 0).catch(() => {});

    const queryClient = new QueryClient();
    const errors: unknown[] = [];
    const pending = createPendingOperations<PaymentsRouter>({
      queryClient,
      namespace: 'alice',
      store,
      // Options of a procedure with another key, as after a rename.
      procedures: { pay: { mutationKey: [['renamed']], mutationFn: async () => null } },
      onStorageError: (error) => errors.push(error),
    });

    expect(await pending.resume()).toEqual([]);
    expect(String(errors[0])).toContain('not among `procedures`: left in storage');
    expect(await operationsIn(store)).toHaveLength(1);
  });
});

describe('mistakes are loud', () => {
  test('the options of another procedure under a path', () => {
    const queryClient = new QueryClient();
    const client = createTRPCClient<PaymentsRouter>({ links: [httpLink({ url: 'http://x' })] });
    const trpc = createTRPCOptionsProxy<PaymentsRouter>({ client, queryClient });
    const wrong = { ...trpc.pay.mutationOptions(), trpc: { path: 'refund' } };
    expect(() =>
      createPendingOperations<PaymentsRouter>({ queryClient, procedures: { pay: wrong } }),
    ).toThrow('procedures["pay"] holds the options of `refund`');
    expect(() =>
      createPendingOperations<PaymentsRouter>({ queryClient, procedures: { pay: {} } }),
    ).toThrow('procedures["pay"] needs a mutationKey and a mutationFn');
  });

  test('without IndexedDB the operation still runs, and the loss is reported', async ({
    server,
  }) => {
    const queryClient = new QueryClient();
    const client = createTRPCClient<PaymentsRouter>({
      links: [
        idempotencyLink({ procedures: { pay: true } }),
        httpLink({ url: server.url, headers: { 'x-user-id': 'alice' } }),
      ],
    });
    const trpc = createTRPCOptionsProxy<PaymentsRouter>({ client, queryClient });
    const errors: unknown[] = [];
    vi.stubGlobal('indexedDB', undefined);
    try {
      const pending = createPendingOperations<PaymentsRouter>({
        queryClient,
        procedures: { pay: trpc.pay.mutationOptions() },
        onStorageError: (error) => errors.push(error),
      });
      pending.start();
      const observer = new MutationObserver(
        queryClient,
        pending.mutationOptions(trpc.pay.mutationOptions()),
      );
      expect(
        await observer.mutate({ amount: 9, idempotencyKey: 'operation-0000000010' } as never),
      ).toEqual({ id: 1, label: 'pay', amount: 9 });
    } finally {
      vi.unstubAllGlobals();
    }
    expect(String(errors[0])).toContain('IndexedDB is not available');
  });
});

describe('every idempotent mutation of the cache is persisted, however it was made (SPEC 7.7)', () => {
  test('useMutation(idempotentMutationOptions(…)): persisted in flight, resumed after a reload', async ({
    app,
    server,
    store,
    browser,
  }) => {
    const handlerHeld = app.holdHandlers();
    const observer = new MutationObserver(
      browser.queryClient,
      idempotentMutationOptions(browser.trpc.pay.mutationOptions()),
    );
    observer.mutate({ amount: 6, idempotencyKey: 'operation-0000000020' }).catch(() => {});
    await vi.waitUntil(() => app.executed.length === 1);
    expect((await operationsIn(store)).map(([id]) => id)).toEqual([
      ['alice', 'operation-0000000020'],
    ]);

    browser.cutNetwork(true);
    const after = session({ url: server.url, store });
    const [resumed] = await after.pending.resume();
    handlerHeld.open();
    await vi.waitUntil(() => resumed?.state.status === 'success', { timeout: 5000 });
    expect(app.executed).toEqual(['operation-0000000020']);
  });

  test('plain useMutation without a key: given one key for all its attempts, and persisted', async ({
    app,
    store,
    browser,
  }) => {
    browser.loseResponses(1);
    const observer = new MutationObserver(browser.queryClient, {
      ...browser.trpc.pay.mutationOptions(),
      retry: 2,
      retryDelay: 1,
    });
    const paid = observer.mutate({ amount: 3 });
    await vi.waitUntil(async () => (await operationsIn(store)).length === 1);
    expect(await paid).toMatchObject({ amount: 3 });
    expect(app.executions()).toBe(1);
    const key = observer.getCurrentResult().variables?.idempotencyKey;
    expect(key).toBeTypeOf('string');
    expect(new Set(browser.sent)).toEqual(new Set([key]));
    await vi.waitUntil(async () => (await operationsIn(store)).length === 0);
  });
});

describe('honest outcomes (SPEC 7.9) and one retry budget (SPEC 7.11)', () => {
  test('the network down: the link’s attempts only, then waiting with its key, never failed', async ({
    store,
    browser,
  }) => {
    browser.cutNetwork(true);
    const observer = new MutationObserver(
      browser.queryClient,
      idempotentMutationOptions(browser.trpc.pay.mutationOptions()),
    );
    const error = await observer
      .mutate({ amount: 2, idempotencyKey: 'operation-0000000021' })
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TRPCClientError);
    // One budget: the link's 5 attempts; TanStack Query adds none on top.
    expect(browser.sent).toHaveLength(5);
    expect(operationStateOf(observer.getCurrentResult())).toBe('waiting');
    expect((await operationsIn(store)).map(([id]) => id)).toEqual([
      ['alice', 'operation-0000000021'],
    ]);
  });

  test('a waiting operation is tried again with its key, and lands once', async ({
    app,
    server,
    store,
  }) => {
    const browser = session({ url: server.url, store, retryWaitingMs: 20 });
    browser.cutNetwork(true);
    const observer = new MutationObserver(
      browser.queryClient,
      idempotentMutationOptions(browser.trpc.pay.mutationOptions()),
    );
    await observer.mutate({ amount: 8, idempotencyKey: 'operation-0000000022' }).catch(() => {});
    expect(operationStateOf(observer.getCurrentResult())).toBe('waiting');
    browser.cutNetwork(false);
    await vi.waitUntil(() => observer.getCurrentResult().status === 'success', { timeout: 5000 });
    expect(app.executed).toEqual(['operation-0000000022']);
    expect(new Set(browser.sent)).toEqual(new Set(['operation-0000000022']));
    await vi.waitUntil(async () => (await operationsIn(store)).length === 0);
  });

  test('discarded: unknown, forgotten, never sent again by a reload', async ({
    app,
    server,
    store,
    browser,
  }) => {
    browser.cutNetwork(true);
    await browser.pay({ amount: 2, idempotencyKey: 'operation-0000000023' }, 0).catch(() => {});
    await browser.pending.discard('operation-0000000023');
    const [shown] = browser.queryClient.getMutationCache().getAll().slice(-1);
    expect(operationStateOf(shown!.state)).toBe('unknown');
    expect((shown!.state.error as OutcomeUnknownError).why).toBe('discarded');
    await vi.waitUntil(async () => (await operationsIn(store)).length === 0);

    const after = session({ url: server.url, store });
    expect(await after.pending.resume()).toEqual([]);
    expect(after.sent).toEqual([]);
    expect(app.executions()).toBe(0);
  });
});

describe('retention on the client (SPEC 7.10)', () => {
  test('an operation older than the horizon is never sent again: shown unknown', async ({
    app,
    server,
    store,
    browser,
  }) => {
    browser.cutNetwork(true);
    await browser.pay({ amount: 2, idempotencyKey: 'operation-0000000024' }, 0).catch(() => {});

    // A day and a bit later, with no horizon learned: the fallback (24 h) applies.
    vi.useFakeTimers({ now: Date.now() + FALLBACK_HORIZON_MS + 60_000, toFake: ['Date'] });
    try {
      const after = session({ url: server.url, store });
      const [restored, ...others] = await after.pending.resume();
      expect(others).toEqual([]);
      expect(operationStateOf(restored!.state)).toBe('unknown');
      expect((restored!.state.error as OutcomeUnknownError).why).toBe('past-horizon');
      expect(after.sent).toEqual([]);
      expect(app.executions()).toBe(0);
      expect(await operationsIn(store)).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });

  test('the horizon the server told is persisted, and used after a reload', async ({
    server,
    store,
    browser,
  }) => {
    browser.cutNetwork(true);
    await browser.pay({ amount: 2, idempotencyKey: 'operation-0000000025' }, 0).catch(() => {});
    learnServerHorizon(7 * 24 * 60 * 60 * 1000);
    await vi.waitUntil(async () => (await entries(store)).length === 2);
    // A new page: nothing learned yet on it, the stored horizon holds.
    resetLearnedHorizon();
    vi.useFakeTimers({ now: Date.now() + 2 * FALLBACK_HORIZON_MS, toFake: ['Date'] });
    try {
      const after = session({ url: server.url, store });
      after.cutNetwork(true);
      const [restored] = await after.pending.resume();
      expect(after.pending.horizonMs()).toBe(7 * 24 * 60 * 60 * 1000);
      expect(operationStateOf(restored!.state)).not.toBe('unknown');
      await vi.waitUntil(() => after.sent.length > 0);
      expect(after.sent[0]).toBe('operation-0000000025');
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('operations remembered as done, across a reload (SPEC 7.8)', () => {
  test('the same input submitted after a reload adopts the done one’s key: replayed, already done', async ({
    app,
    server,
    store,
    browser,
  }) => {
    const mutationKey = browser.trpc.pay.mutationOptions().mutationKey;
    await browser.pay({ amount: 5, idempotencyKey: 'operation-0000000030' });
    expect(browser.pending.completedIntent(mutationKey, { amount: 5 })).toBe(
      'operation-0000000030',
    );

    // The page reloads: a new session on the same storage remembers it once resumed.
    const after = session({ url: server.url, store });
    expect(after.pending.completedIntent(mutationKey, { amount: 5 })).toBeUndefined();
    expect(await after.pending.resume()).toEqual([]);
    // Compared as the hook compares a resubmission: without its key, in any key order.
    const key = after.pending.completedIntent(mutationKey, {
      idempotencyKey: 'some-other-key-000001',
      amount: 5,
    });
    expect(key).toBe('operation-0000000030');
    expect(after.pending.completedIntent(mutationKey, { amount: 6 })).toBeUndefined();

    const replayed = await after.pay({ amount: 5, idempotencyKey: key! });
    expect(replayed).toEqual({ id: 1, label: 'pay', amount: 5 });
    expect(app.executed).toEqual(['operation-0000000030']);
    const [shown] = after.queryClient.getMutationCache().getAll();
    expect(operationStateOf(shown!.state)).toBe('succeeded');
    expect(isAlreadyDone(after.queryClient, shown!)).toBe(true);

    // Another user's session knows nothing of it.
    const bob = session({ url: server.url, store, namespace: 'bob', user: 'bob' });
    await bob.pending.resume();
    expect(bob.pending.completedIntent(mutationKey, { amount: 5 })).toBeUndefined();
  });

  test('kept in one versioned entry per namespace beside the pending operations, which it never becomes', async ({
    server,
    store,
    browser,
  }) => {
    const before = Date.now();
    await browser.pay({ amount: 5, idempotencyKey: 'operation-0000000031' });
    await browser.pay({ amount: 7, idempotencyKey: 'operation-0000000032' });
    await vi.waitUntil(
      async () => ((await get('~completed-intents:alice', store))?.intents.length ?? 0) === 2,
    );
    const record = await get('~completed-intents:alice', store);
    expect(record).toEqual({
      format: 'completed-intents/1',
      namespace: 'alice',
      intents: [5, 7].map((amount, index) => ({
        procedure: hashKey(browser.trpc.pay.mutationOptions().mutationKey),
        input: JSON.stringify({ amount }),
        idempotencyKey: `operation-000000003${index + 1}`,
        firstSubmittedAt: expect.any(Number),
        completedAt: expect.any(Number),
      })),
    });
    expect(record.intents[0].firstSubmittedAt).toBeGreaterThanOrEqual(before);
    expect(await operationsIn(store)).toEqual([]);

    // A reload resumes nothing from it; a record of a format it does not know is ignored.
    await set('~completed-intents:carol', { format: 'completed-intents/9', intents: [{}] }, store);
    const after = session({ url: server.url, store });
    expect(await after.pending.resume()).toEqual([]);
    expect(after.sent).toEqual([]);
    const carol = session({ url: server.url, store, namespace: 'carol' });
    expect(await carol.pending.resume()).toEqual([]);
    expect(carol.storageErrors).toEqual([]);
  });

  test('past the server’s horizon it is forgotten: the same input is a new operation', async ({
    server,
    store,
    browser,
  }) => {
    const mutationKey = browser.trpc.pay.mutationOptions().mutationKey;
    await browser.pay({ amount: 5, idempotencyKey: 'operation-0000000033' });
    // The horizon the server told (its default, 30 days) with its answer.
    const horizonMs = browser.pending.horizonMs();
    expect(horizonMs).toBe(30 * 24 * 60 * 60 * 1000);

    vi.useFakeTimers({ now: Date.now() + horizonMs + 60_000, toFake: ['Date'] });
    try {
      expect(browser.pending.completedIntent(mutationKey, { amount: 5 })).toBeUndefined();
      const after = session({ url: server.url, store });
      await after.pending.resume();
      expect(after.pending.completedIntent(mutationKey, { amount: 5 })).toBeUndefined();
      // Dropped from storage at the next change.
      await after.pay({ amount: 6, idempotencyKey: 'operation-0000000034' });
      await vi.waitUntil(
        async () =>
          (await get('~completed-intents:alice', store))?.intents.length === 1 &&
          (await get('~completed-intents:alice', store))?.intents[0].idempotencyKey ===
            'operation-0000000034',
      );
    } finally {
      vi.useRealTimers();
    }
  });

  test('forgotten when the user starts a new operation on purpose, after a reload too', async ({
    server,
    store,
    browser,
  }) => {
    const mutationKey = browser.trpc.pay.mutationOptions().mutationKey;
    await browser.pay({ amount: 5, idempotencyKey: 'operation-0000000035' });
    await browser.pay({ amount: 8, idempotencyKey: 'operation-0000000036' });

    await browser.pending.forgetIntent(mutationKey, { amount: 5 });
    expect(browser.pending.completedIntent(mutationKey, { amount: 5 })).toBeUndefined();
    expect(browser.pending.completedIntent(mutationKey, { amount: 8 })).toBe(
      'operation-0000000036',
    );

    const after = session({ url: server.url, store });
    await after.pending.resume();
    expect(after.pending.completedIntent(mutationKey, { amount: 5 })).toBeUndefined();
    expect(after.pending.completedIntent(mutationKey, { amount: 8 })).toBe('operation-0000000036');
  });

  test('a final failure is not remembered as done', async ({ store, browser }) => {
    const mutationKey = browser.trpc.pay.mutationOptions().mutationKey;
    await browser.pay({ amount: 5000, idempotencyKey: 'operation-0000000037' }).catch(() => {});
    expect(browser.pending.completedIntent(mutationKey, { amount: 5000 })).toBeUndefined();
    expect(await get('~completed-intents:alice', store)).toBeUndefined();
  });

  test('storage that cannot be written: the operation still runs, the loss is reported', async ({
    app,
    server,
  }) => {
    const broken = createStore('pending-broken', 'pending-operations');
    const browser = session({ url: server.url, store: broken });
    const mutationKey = browser.trpc.pay.mutationOptions().mutationKey;
    vi.stubGlobal('indexedDB', {
      open: () => {
        throw new DOMException('quota exceeded', 'QuotaExceededError');
      },
    });
    try {
      expect(await browser.pay({ amount: 3, idempotencyKey: 'operation-0000000038' })).toEqual({
        id: 1,
        label: 'pay',
        amount: 3,
      });
    } finally {
      vi.unstubAllGlobals();
    }
    expect(app.executed).toEqual(['operation-0000000038']);
    // Remembered in this page all the same.
    expect(browser.pending.completedIntent(mutationKey, { amount: 3 })).toBe(
      'operation-0000000038',
    );
    await vi.waitUntil(() => browser.storageErrors.length >= 2);
  });
});
