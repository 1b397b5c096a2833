/**
 * Tombstones (SPEC 3.7) end to end, over real HTTP on both stores: a retry
 * of an operation whose response is past its TTL answers
 * `IDEMPOTENCY_OUTCOME_EXPIRED` and never runs again, other input a 422, and
 * past the horizon the key is free; purge drops the response, never the
 * tombstone; the server tells clients its horizon (SPEC 7.10).
 */
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import { TRPCError } from '@trpc/server';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type IdempotencyEvent, idempotentProcedure } from '../src';
import { isIdempotencyOutcomeExpired, isRetryableError } from '../src/client';
import { pgIdempotencyStore } from '../src/pg';
import type { AnyIdempotencyStore } from '../src/store';
import { httpTestServer } from './helpers/httpServer';
import { manualClock, newKey, sqliteTestDatabase } from './helpers/sqliteApp';
import { t, userIdempotent } from './helpers/trpc';
import { usePostgresDatabase } from './stores/postgres';

const TTL_MS = 1_000;
const HORIZON_MS = 10_000;
const postgres = usePostgresDatabase();

/** A fresh, empty store of each dialect; `await using` closes it. */
const stores: Record<string, () => Promise<{ store: AnyIdempotencyStore } & AsyncDisposable>> = {
  sqlite: async () => {
    const database = sqliteTestDatabase();
    return { store: database.store, [Symbol.asyncDispose]: async () => database[Symbol.dispose]() };
  },
  postgres: async () => {
    const db = postgres.connect({ max: 4 });
    await db.execute(sql`TRUNCATE idempotency_records`);
    return { store: pgIdempotencyStore({ db }), [Symbol.asyncDispose]: async () => {} };
  },
};

/**
 * A ledger-like app on a manual clock: `record` in transactional mode,
 * `notify` in lease mode (TTL 1 s, horizon 10 s); `slow` with a longer
 * horizon; `plain`, not idempotent.
 */
function tombstoneApp(store: AnyIdempotencyStore) {
  const clock = manualClock();
  const events: IdempotencyEvent[] = [];
  const executions: string[] = [];
  const options = {
    store,
    clock: clock.now,
    ttlMs: TTL_MS,
    horizonMs: HORIZON_MS,
    onEvent: (event: IdempotencyEvent) => events.push(event),
  };
  const input = z.object({ label: z.string() });
  const run = (label: string) => {
    executions.push(label);
    if (label === 'boom') throw new Error('transient');
    return { label, at: clock.now() };
  };
  const router = t.router({
    record: userIdempotent(options)
      .input(input)
      .mutation(({ input }) => run(input.label)),
    notify: userIdempotent({ ...options, mode: 'lease' })
      .input(input)
      .mutation(({ input }) => run(input.label)),
    slow: userIdempotent({ ...options, horizonMs: 3 * HORIZON_MS })
      .input(input)
      .mutation(({ input }) => run(input.label)),
    plain: t.procedure.input(input).mutation(({ input }) => run(input.label)),
  });
  return { router, clock, events, executions };
}

/** The tRPC error body of a non-batched response. */
async function errorOf(response: Response) {
  const body = (await response.json()) as {
    error: { message: string; data: Record<string, unknown> };
  };
  return body.error;
}

describe.each(Object.keys(stores))('tombstones on %s, over HTTP', (dialect) => {
  const open = stores[dialect]!;

  it.each(['record', 'notify'])(
    '%s: past the TTL a retry answers IDEMPOTENCY_OUTCOME_EXPIRED and never runs; other input 422; past the horizon it runs anew',
    async (path) => {
      await using fixture = await open();
      const app = tombstoneApp(fixture.store);
      await using server = await httpTestServer(app.router);
      const idempotencyKey = newKey();
      const completedAt = app.clock.now();

      const first = await server.mutate(path, { idempotencyKey, label: 'a' });
      expect(first.status).toBe(200);
      app.clock.advance(TTL_MS - 1);
      const replay = await server.mutate(path, { idempotencyKey, label: 'a' });
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(await replay.text()).toBe(await first.text());

      app.clock.advance(1);
      const expired = await server.mutate(path, { idempotencyKey, label: 'a' });
      expect(expired.status).toBe(404);
      expect(expired.headers.get('idempotent-replayed')).toBeNull();
      expect(expired.headers.get('idempotency-horizon-ms')).toBe(String(HORIZON_MS));
      const error = await errorOf(expired);
      expect(error.data).toMatchObject({
        code: 'NOT_FOUND',
        httpStatus: 404,
        reason: 'IDEMPOTENCY_OUTCOME_EXPIRED',
        completedAt,
        horizonMs: HORIZON_MS,
      });
      expect(error.message).toContain(new Date(completedAt).toISOString());
      expect(app.executions).toEqual(['a']);

      // Other input with the tombstoned key: the 422 of a reused key, as before its TTL.
      const reused = await server.mutate(path, { idempotencyKey, label: 'b' });
      expect(reused.status).toBe(422);
      expect((await errorOf(reused)).data).toMatchObject({
        reason: 'IDEMPOTENCY_KEY_REUSED',
        horizonMs: HORIZON_MS,
      });

      // Purge drops the response, keeps the tombstone: the same answer after it.
      expect(await fixture.store.purge({ now: app.clock.now() })).toBe(1);
      const afterPurge = await server.mutate(path, { idempotencyKey, label: 'a' });
      expect(afterPurge.status).toBe(404);
      expect((await errorOf(afterPurge)).data).toMatchObject({ completedAt });
      expect(app.executions).toEqual(['a']);

      // Past the horizon the key is free: a new request executes anew, with any input.
      app.clock.advance(HORIZON_MS - TTL_MS);
      const anew = await server.mutate(path, { idempotencyKey, label: 'b' });
      expect(anew.status).toBe(200);
      expect(app.executions).toEqual(['a', 'b']);
      expect(app.events.map((event) => event.type)).toEqual([
        'executed',
        'replayed',
        'expired',
        'mismatch',
        'expired',
        'executed',
      ]);
      expect(app.events[2]).toMatchObject({ type: 'expired', path, completedAt });
    },
  );

  it('the typed client sees a non-retryable IDEMPOTENCY_OUTCOME_EXPIRED naming when it completed', async () => {
    await using fixture = await open();
    const app = tombstoneApp(fixture.store);
    await using server = await httpTestServer(app.router);
    const client = createTRPCClient<AnyTRPCRouter>({
      links: [httpLink({ url: server.url, headers: { 'x-user-id': 'alice' } })],
    }) as unknown as {
      record: { mutate(input: { idempotencyKey: string; label: string }): Promise<unknown> };
    };
    const idempotencyKey = newKey();
    const completedAt = app.clock.now();
    await client.record.mutate({ idempotencyKey, label: 'a' });
    app.clock.advance(TTL_MS);
    const error = await client.record
      .mutate({ idempotencyKey, label: 'a' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCClientError);
    expect(isIdempotencyOutcomeExpired(error)).toBe(true);
    if (!isIdempotencyOutcomeExpired(error)) return;
    expect(error.data.completedAt).toBe(completedAt);
    expect(error.data.horizonMs).toBe(HORIZON_MS);
    expect(isRetryableError(error)).toBe(false);
    expect(app.executions).toEqual(['a']);
  });
});

describe('the horizon header (Idempotency-Horizon-Ms)', () => {
  const open = stores['sqlite']!;

  it('is on every response that carried an idempotent call, whatever it answered', async () => {
    await using fixture = await open();
    const app = tombstoneApp(fixture.store);
    await using server = await httpTestServer(app.router);
    const idempotencyKey = newKey();
    const responses = {
      executed: await server.mutate('record', { idempotencyKey, label: 'a' }),
      replayed: await server.mutate('record', { idempotencyKey, label: 'a' }),
      reused: await server.mutate('record', { idempotencyKey, label: 'b' }),
      invalidKey: await server.mutate('record', { idempotencyKey: 'short', label: 'a' }),
      transient: await server.mutate('record', { idempotencyKey: newKey(), label: 'boom' }),
    };
    expect(responses.transient.status).toBe(500);
    for (const [name, response] of Object.entries(responses)) {
      expect(response.headers.get('idempotency-horizon-ms'), name).toBe(String(HORIZON_MS));
    }
    expect((await errorOf(responses.invalidKey)).data).toMatchObject({
      reason: 'IDEMPOTENCY_KEY_INVALID',
      horizonMs: HORIZON_MS,
    });
    const plain = await server.mutate('plain', { label: 'p' });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('idempotency-horizon-ms')).toBeNull();
  });

  it('a batch tells the smallest horizon of its idempotent calls', async () => {
    await using fixture = await open();
    const app = tombstoneApp(fixture.store);
    await using server = await httpTestServer(app.router);
    const slowOnly = await server.mutateBatch([
      ['slow', { idempotencyKey: newKey(), label: 's' }],
      ['plain', { label: 'p' }],
    ]);
    expect(slowOnly.headers.get('idempotency-horizon-ms')).toBe(String(3 * HORIZON_MS));
    const both = await server.mutateBatch([
      ['slow', { idempotencyKey: newKey(), label: 's' }],
      ['record', { idempotencyKey: newKey(), label: 'r' }],
    ]);
    expect(both.headers.get('idempotency-horizon-ms')).toBe(String(HORIZON_MS));
  });
});

describe('the horizonMs option', () => {
  it('is never below the TTL: a clear RangeError', () => {
    using database = sqliteTestDatabase();
    const build = (opts: { ttlMs?: number; horizonMs?: number }) =>
      idempotentProcedure({
        procedure: t.procedure,
        store: database.store,
        scope: ({ ctx }) => ctx.user,
        ...opts,
      });
    expect(() => build({ ttlMs: 2_000, horizonMs: 1_999 })).toThrow(
      /horizonMs \(1999\) must be at least ttlMs \(2000\)/,
    );
    expect(() => build({ horizonMs: 0 })).toThrow(/horizonMs must be a positive number/);
    expect(() => build({ horizonMs: Number.NaN })).toThrow(RangeError);
    expect(() => build({ ttlMs: 2_000, horizonMs: 2_000 })).not.toThrow();
  });

  it('defaults to 30 days, or to a longer TTL', async () => {
    const day = 24 * 60 * 60 * 1000;
    for (const [ttlMs, horizonMs] of [
      [undefined, 30 * day],
      [60 * day, 60 * day],
    ] as const) {
      using database = sqliteTestDatabase();
      const router = t.router({
        pay: idempotentProcedure({
          procedure: t.procedure,
          store: database.store,
          scope: ({ ctx }) => ctx.user,
          ...(ttlMs && { ttlMs }),
        })
          .input(z.object({ amount: z.number() }))
          .mutation(({ input }) => {
            if (input.amount < 0) throw new TRPCError({ code: 'BAD_REQUEST' });
            return input;
          }),
      });
      await using server = await httpTestServer(router);
      const response = await server.mutate('pay', { idempotencyKey: newKey(), amount: 1 });
      expect(response.headers.get('idempotency-horizon-ms'), String(ttlMs)).toBe(String(horizonMs));
    }
  });
});
