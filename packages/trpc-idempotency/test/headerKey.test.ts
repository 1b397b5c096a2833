/**
 * SPEC 1.5 over real HTTP: the `Idempotency-Key` request header keys a
 * single call whose input has none, through tRPC's standalone and fetch
 * adapters and through a trpc-to-openapi front-end (the README's example).
 */
import type { Server } from 'node:http';
import { join } from 'node:path';
import { TRPCError } from '@trpc/server';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { afterAll, beforeAll, describe, expect, vi, it as vitestIt } from 'vitest';
import { z } from 'zod';
import {
  idempotencyResponseContext,
  idempotencyResponseHeaders,
  idempotentProcedure,
} from '../src';
import { idempotencyKeyHeader } from '../src/server/headerKey';
import { closeServer, exampleFolder, loadExample, urlOf } from './helpers/examples';
import { httpTestServer, itServing } from './helpers/httpServer';
import { newKey, type SqliteTestDatabase } from './helpers/sqliteApp';
import { t } from './helpers/trpc';

function payApp(database: SqliteTestDatabase) {
  let executions = 0;
  const idempotent = idempotentProcedure({
    procedure: t.procedure,
    store: database.store,
    scope: ({ ctx }) => ctx.user,
  });
  const router = t.router({
    pay: idempotent.input(z.object({ amount: z.number().int() })).mutation(({ input }) => {
      executions++;
      if (input.amount > 1000) throw new TRPCError({ code: 'PRECONDITION_FAILED' });
      return { paid: input.amount, execution: executions };
    }),
  });
  return { router, executions: () => executions };
}

const it = itServing(payApp);
const header = (key: string) => ({ 'idempotency-key': key });

describe('the Idempotency-Key header through the standalone adapter', () => {
  it('keys a call whose input has none: the same header replays, marked, and runs once', async ({
    app,
    server,
  }) => {
    const key = newKey();
    const first = await server.mutate('pay', { amount: 5 }, 'alice', header(key));
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const again = await server.mutate('pay', { amount: 5 }, 'alice', header(key));
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.text()).toBe(await first.text());
    // The header's key is the record's key: the same key in the input replays too.
    const viaInput = await server.mutate('pay', { amount: 5, idempotencyKey: key });
    expect(viaInput.headers.get('idempotent-replayed')).toBe('true');
    // The same key with other input: 422, as ever.
    expect((await server.mutate('pay', { amount: 6 }, 'alice', header(key))).status).toBe(422);
    // Another user's header with the same key is another operation.
    expect((await server.mutate('pay', { amount: 5 }, 'bob', header(key))).status).toBe(200);
    expect(app.executions()).toBe(2);
  });

  it('lets the input’s key win when both are present (a browser may add the header by itself)', async ({
    app,
    server,
  }) => {
    const inputKey = newKey('input');
    const headerKey = newKey('header');
    await server.mutate('pay', { amount: 5, idempotencyKey: inputKey }, 'alice', header(headerKey));
    const byInput = await server.mutate('pay', { amount: 5, idempotencyKey: inputKey });
    expect(byInput.headers.get('idempotent-replayed')).toBe('true');
    // The header's key was never used.
    const byHeader = await server.mutate('pay', { amount: 5 }, 'alice', header(headerKey));
    expect(byHeader.headers.get('idempotent-replayed')).toBeNull();
    expect(app.executions()).toBe(2);
    // A malformed key in the input is the input's 400, whatever the header says.
    const bad = await server.mutate(
      'pay',
      { amount: 5, idempotencyKey: 'short' },
      'alice',
      header(newKey()),
    );
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.message).toMatch(/^`idempotencyKey` is too short/);
  });

  it('answers a malformed header with the 400 of a malformed key, naming the header; nothing is stored', async ({
    database,
    server,
  }) => {
    for (const [value, problem] of [
      ['abc', 'is too short (3 characters)'],
      ['', 'is empty'],
      ['has spaces in it, too many', 'contains characters that are not allowed'],
      ['x'.repeat(256), 'is too long (256 characters)'],
    ] as const) {
      const response = await server.mutate('pay', { amount: 5 }, 'alice', header(value));
      expect(response.status, value).toBe(400);
      const { error } = await response.json();
      expect(error.message).toBe(
        `the \`Idempotency-Key\` header ${problem}: it must be a string of 16–255 characters (letters, digits and . _ : -)`,
      );
      expect(error.data.reason).toBe('IDEMPOTENCY_KEY_INVALID');
    }
    expect(database.countRecords()).toBe(0);
  });

  it('takes the draft’s quoted form (a Structured Field string) as the bare key', async ({
    server,
  }) => {
    const key = newKey();
    await server.mutate('pay', { amount: 5 }, 'alice', header(key));
    const quoted = await server.mutate('pay', { amount: 5 }, 'alice', header(`"${key}"`));
    expect(quoted.headers.get('idempotent-replayed')).toBe('true');
  });

  it('is ignored by a batch of several calls, and taken by a batch of one', async ({
    app,
    server,
  }) => {
    const key = newKey();
    const several = await server.mutateBatch(
      [
        ['pay', { amount: 1 }],
        ['pay', { amount: 1 }],
      ],
      'alice',
      header(key),
    );
    const answers = await several.json();
    expect(
      answers.map((answer: { error?: { data: { reason: string } } }) => answer.error?.data.reason),
    ).toEqual(['IDEMPOTENCY_KEY_INVALID', 'IDEMPOTENCY_KEY_INVALID']);
    expect(app.executions()).toBe(0);
    const one = await server.mutateBatch([['pay', { amount: 1 }]], 'alice', header(key));
    expect(one.status).toBe(200);
    expect(app.executions()).toBe(1);
  });

  it('is not read from a context made without the request (idempotencyResponseContext())', async ({
    app,
  }) => {
    await using server = await httpTestServer(app.router, { responseContext: false });
    const response = await server.mutate('pay', { amount: 5 }, 'alice', header(newKey()));
    expect(response.status).toBe(400);
    expect((await response.json()).error.message).toMatch(/^`idempotencyKey` is missing/);
  });
});

describe('the Idempotency-Key header through the fetch adapter', () => {
  it('keys the call of a web Request', async ({ app }) => {
    const handle = (key: string) =>
      fetchRequestHandler({
        endpoint: '/trpc',
        req: new Request('http://localhost/trpc/pay', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': key },
          body: JSON.stringify({ amount: 7 }),
        }),
        router: app.router,
        createContext: (opts) => ({ user: 'alice', ...idempotencyResponseContext(opts) }),
        responseMeta: (opts) => ({ headers: idempotencyResponseHeaders(opts) }),
      });
    const key = newKey();
    expect((await handle(key)).status).toBe(200);
    const again = await handle(key);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(app.executions()).toBe(1);
  });
});

describe('idempotencyKeyHeader', () => {
  vitestIt('reads Node’s headers and web Headers alike; a header sent twice is two keys', () => {
    expect(idempotencyKeyHeader({ req: { headers: { 'idempotency-key': ' k ' } } })).toBe('k');
    expect(
      idempotencyKeyHeader({ req: { headers: new Headers({ 'Idempotency-Key': '"a\\"b"' }) } }),
    ).toBe('a"b');
    expect(idempotencyKeyHeader({ req: { headers: { 'idempotency-key': ['a', 'b'] } } })).toBe(
      'a, b',
    );
    expect(idempotencyKeyHeader({ req: { headers: {} } })).toBeUndefined();
    expect(
      idempotencyKeyHeader({
        req: { headers: { 'idempotency-key': 'k' } },
        info: { calls: [1, 2] },
      }),
    ).toBeUndefined();
  });
});

describe('through trpc-to-openapi on Express (examples/openapi/server.ts)', () => {
  const folder = exampleFolder();
  let server: Server;
  let url: string;
  // biome-ignore lint/suspicious/noExplicitAny: the example's own types are checked by examples.test.ts
  let example: any;

  beforeAll(async () => {
    vi.stubEnv('DATABASE_FILE', join(folder.dir, 'rest.db'));
    vi.stubEnv('PORT', '0');
    example = await loadExample('openapi/server.ts');
    server = example.server;
    url = await urlOf(server, '/api/refunds');
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    if (server) await closeServer(server);
    folder[Symbol.dispose]();
  });

  const refund = (
    headers: Record<string, string>,
    body: unknown = { paymentId: 'py_1', amount: 3 },
  ) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': 'alice', ...headers },
      body: JSON.stringify(body),
    });

  vitestIt('executes once per Idempotency-Key and marks the replay, as Stripe does', async () => {
    const key = newKey();
    const first = await refund(header(key));
    expect(first.status).toBe(200);
    const created = await first.json();
    expect(created).toEqual({ refundId: expect.stringMatching(/^re_\d+$/), amount: 3 });
    expect(first.headers.get('idempotent-replayed')).toBeNull();

    const again = await refund(header(key));
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(created);

    const reused = await refund(header(key), { paymentId: 'py_1', amount: 4 });
    expect(reused.status).toBe(422);
    expect(await refund(header(newKey())).then((response) => response.json())).not.toEqual(created);
  });

  vitestIt(
    'answers a REST call without a key, or with a malformed one, with a 400 naming the rule',
    async () => {
      const missing = await refund({});
      expect(missing.status).toBe(400);
      expect((await missing.json()).message).toMatch(/^`idempotencyKey` is missing/);
      const malformed = await refund(header('nope'));
      expect(malformed.status).toBe(400);
      expect((await malformed.json()).message).toMatch(
        /^the `Idempotency-Key` header is too short/,
      );
    },
  );

  vitestIt(
    'documents the Idempotency-Key request header and the Idempotent-Replayed response header',
    () => {
      const operation = example.openApiDocument.paths['/refunds'].post;
      // Optional: a key in the body does as well.
      expect(operation.parameters).toEqual([
        expect.objectContaining({ in: 'header', name: 'Idempotency-Key' }),
      ]);
      expect(operation.parameters[0].required).not.toBe(true);
      expect(Object.keys(operation.responses['200'].headers)).toEqual(['Idempotent-Replayed']);
    },
  );
});
