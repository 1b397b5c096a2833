/**
 * A key belongs to the operation, whoever repeats it: tRPC's own `retryLink`
 * (from @trpc/client) placed before or after `idempotencyLink`, over real
 * HTTP to a real idempotent procedure on SQLite. Before the link remembered
 * its calls' keys, `retryLink` first meant a new key per outer retry: two
 * executions of one call.
 */
import {
  createTRPCClient,
  httpBatchStreamLink,
  httpLink,
  retryLink,
  splitLink,
  type TRPCLink,
} from '@trpc/client';
import { describe, expect } from 'vitest';
import { idempotencyLink, retriedByIdempotencyLink } from '../src/client';
import { getIdempotencyKey } from '../src/react-query';
import { itServing } from './helpers/httpServer';
import { ledgerApp } from './helpers/ledgerApp';
import type { SqliteTestDatabase } from './helpers/sqliteApp';
import { t } from './helpers/trpc';

function payments(database: SqliteTestDatabase) {
  const ledger = ledgerApp(database.store);
  return { ...ledger, router: t.router({ pay: ledger.pay }) };
}
type PaymentsRouter = ReturnType<typeof payments>['router'];

const it = itServing(payments);

/**
 * A `fetch` that sends every request (the server runs it) and loses the first
 * `lose` answers, as a dropped connection does; it notes each request's key.
 */
function losingFetch(lose: number) {
  const keys: Array<string | undefined> = [];
  let lost = 0;
  const lossy: typeof fetch = async (url, init) => {
    keys.push(getIdempotencyKey(JSON.parse(String(init?.body ?? 'null'))));
    const response = await fetch(url, init);
    if (lost < lose) {
      lost++;
      await response.text();
      throw new TypeError('fetch failed: connection reset after the answer');
    }
    return response;
  };
  return { fetch: lossy, keys };
}

const idempotency = () =>
  idempotencyLink<PaymentsRouter>({
    procedures: { pay: true },
    maxAttempts: 1, // only retryLink retries here
  });
const retry = () =>
  retryLink<PaymentsRouter>({ retry: ({ attempts }) => attempts < 3, retryDelayMs: () => 1 });

describe("tRPC's retryLink repeats the call with its key", () => {
  it.for([
    ['before idempotencyLink (where tRPC’s docs put it)', 'before'],
    ['after idempotencyLink', 'after'],
  ] as const)('%s: one execution, one key', async ([, placement], { app, server }) => {
    const wire = losingFetch(2);
    const terminating = httpLink<PaymentsRouter>({
      url: server.url,
      fetch: wire.fetch,
      headers: { 'x-user-id': 'alice' },
    });
    const links: TRPCLink<PaymentsRouter>[] =
      placement === 'before'
        ? [retry(), idempotency(), terminating]
        : [idempotency(), retry(), terminating];
    const client = createTRPCClient<PaymentsRouter>({ links });

    const result = await client.pay.mutate({ amount: 7 });

    expect(result).toMatchObject({ amount: 7 });
    expect(wire.keys).toHaveLength(3);
    expect(new Set(wire.keys).size).toBe(1);
    expect(app.executed).toEqual([wire.keys[0]]);
    // Two calls are still two operations.
    await client.pay.mutate({ amount: 7 });
    expect(app.executions()).toBe(2);
  });

  it('splitLink and httpBatchStreamLink after idempotencyLink: the key rides along', async ({
    app,
    server,
  }) => {
    const wire = losingFetch(1);
    const client = createTRPCClient<PaymentsRouter>({
      links: [
        retry(),
        idempotencyLink<PaymentsRouter>({ procedures: { pay: true }, baseDelayMs: 1 }),
        splitLink({
          condition: (op) => op.type === 'mutation',
          true: httpLink({ url: server.url, fetch: wire.fetch, headers: { 'x-user-id': 'alice' } }),
          false: httpBatchStreamLink({ url: server.url, headers: { 'x-user-id': 'alice' } }),
        }),
      ],
    });
    await client.pay.mutate({ amount: 3 });
    expect(new Set(wire.keys).size).toBe(1);
    expect(app.executions()).toBe(1);
  });
});

it('retryLink after the link gave up: `retriedByIdempotencyLink` keeps one budget', async ({
  server,
}) => {
  const keys: Array<string | undefined> = [];
  const down: typeof fetch = async (_url, init) => {
    keys.push(getIdempotencyKey(JSON.parse(String(init?.body ?? 'null'))));
    throw new TypeError('fetch failed');
  };
  const client = createTRPCClient<PaymentsRouter>({
    links: [
      retryLink({
        retry: ({ error, attempts }) => !retriedByIdempotencyLink(error) && attempts < 5,
      }),
      idempotencyLink<PaymentsRouter>({
        procedures: { pay: true },
        maxAttempts: 3,
        baseDelayMs: 1,
        maxDelayMs: 2,
      }),
      httpLink({ url: server.url, fetch: down }),
    ],
  });
  await expect(client.pay.mutate({ amount: 1 })).rejects.toThrow('fetch failed');
  // The link's 3 attempts, not 3 × 5.
  expect(keys).toHaveLength(3);
  expect(new Set(keys).size).toBe(1);
});
