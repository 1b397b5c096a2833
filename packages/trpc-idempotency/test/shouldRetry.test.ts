/**
 * `Idempotency-Should-Retry: false` (README.md#one-retry-budget): the server
 * marks the failures no retry can fix, so the client stops at once, and
 * leaves every other failure retryable. Real handlers over real HTTP on a
 * real SQLite database.
 */
import { TRPCError } from '@trpc/server';
import { describe, expect } from 'vitest';
import { z } from 'zod';
import { isUnfixableByRetry } from '../src';
import { itServing } from './helpers/httpServer';
import { entries, newKey, type SqliteTestDatabase } from './helpers/sqliteApp';
import { t, userIdempotent } from './helpers/trpc';

/** One idempotent mutation per kind of failure. */
function failingApp(database: SqliteTestDatabase) {
  const idempotent = userIdempotent({ store: database.store });
  const fail = idempotent.input(z.object({ kind: z.string() })).mutation(async ({ ctx, input }) => {
    switch (input.kind) {
      case 'bug': {
        const missing = undefined as unknown as { amount: number };
        return missing.amount; // TypeError: a bug, whatever the input
      }
      case 'constraint':
        return ctx.idempotency.commit((tx) => {
          tx.insert(entries).values({ id: 1, label: 'a', amount: 1 }).run();
          tx.insert(entries).values({ id: 1, label: 'b', amount: 2 }).run(); // same primary key
          return 'unreachable';
        });
      case 'network':
        throw new TypeError('fetch failed', {
          cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
        });
      case 'busy':
        throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
      case 'unavailable':
        throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'try later' });
      default:
        throw new TRPCError({ code: 'BAD_REQUEST', message: 'no such kind' });
    }
  });
  return { router: t.router({ fail, ok: idempotent.mutation(() => 'ok') }) };
}

const it = itServing(failingApp);

describe('Idempotency-Should-Retry', () => {
  it.for([
    ['a TypeError the handler threw (a bug)', 'bug', 500],
    ['a unique constraint its writes violated', 'constraint', 500],
  ] as const)('says false for %s', async ([, kind, status], { server, database }) => {
    const response = await server.mutate('fail', { idempotencyKey: newKey(), kind });
    expect(response.status).toBe(status);
    expect(response.headers.get('idempotency-should-retry')).toBe('false');
    expect(database.countEntries()).toBe(0);
  });

  it.for([
    ['a network failure of a downstream call (TypeError caused by a system error)', 'network'],
    ['a busy database', 'busy'],
    ['a 503 the handler threw', 'unavailable'],
    ['a final 4xx (never retried anyway)', 'other'],
  ] as const)('leaves it out for %s', async ([, kind], { server }) => {
    const response = await server.mutate('fail', { idempotencyKey: newKey(), kind });
    expect(response.ok).toBe(false);
    expect(response.headers.get('idempotency-should-retry')).toBeNull();
  });

  it('a batch is marked only when every failure in it is one no retry can fix', async ({
    server,
  }) => {
    const bugAndSuccess = await server.mutateBatch([
      ['fail', { idempotencyKey: newKey(), kind: 'bug' }],
      ['ok', { idempotencyKey: newKey() }],
    ]);
    expect(bugAndSuccess.headers.get('idempotency-should-retry')).toBe('false');
    const bugAndTransient = await server.mutateBatch([
      ['fail', { idempotencyKey: newKey(), kind: 'bug' }],
      ['fail', { idempotencyKey: newKey(), kind: 'busy' }],
    ]);
    expect(bugAndTransient.headers.get('idempotency-should-retry')).toBeNull();
  });
});

it('isUnfixableByRetry reads the cause chain, driver codes included', () => {
  const wrapped = (cause: unknown) => new TRPCError({ code: 'INTERNAL_SERVER_ERROR', cause });
  const driverError = (fields: object) => Object.assign(new Error('driver'), fields);
  expect(isUnfixableByRetry(wrapped(new ReferenceError('x is not defined')))).toBe(true);
  expect(isUnfixableByRetry(wrapped(driverError({ code: '23505' })))).toBe(true); // Postgres unique
  expect(isUnfixableByRetry(wrapped(driverError({ code: '23503' })))).toBe(true); // Postgres FK
  expect(isUnfixableByRetry(wrapped(driverError({ errno: 1062 })))).toBe(true); // MySQL duplicate
  expect(
    isUnfixableByRetry(
      wrapped(
        new Error('Failed query', { cause: driverError({ code: 'SQLITE_CONSTRAINT_UNIQUE' }) }),
      ),
    ),
  ).toBe(true); // Drizzle wraps the driver's error
  expect(isUnfixableByRetry(wrapped(driverError({ code: '40001' })))).toBe(false); // serialization
  expect(isUnfixableByRetry(wrapped(driverError({ code: 'ECONNRESET' })))).toBe(false);
  expect(isUnfixableByRetry(wrapped(new Error('plain')))).toBe(false);
  expect(isUnfixableByRetry(new TRPCError({ code: 'INTERNAL_SERVER_ERROR' }))).toBe(false);
});
