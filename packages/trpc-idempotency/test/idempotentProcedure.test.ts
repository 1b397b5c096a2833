import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import { describe, expect } from 'vitest';
import { z } from 'zod';
import { type IdempotencyEvent, idempotentProcedure } from '../src';
import { ledgerApp } from './helpers/ledgerApp';
import {
  gate,
  it,
  manualClock,
  newKey,
  type SqliteTestDatabase,
  sqliteTestDatabase,
} from './helpers/sqliteApp';
import {
  callerOf,
  t,
  type UserContext,
  type UserIdempotentOptions,
  userIdempotent,
} from './helpers/trpc';

type Options = Partial<UserIdempotentOptions<SqliteTestDatabase['store']>>;

/** A router with one lease-mode mutation (effects outside the database). */
function leaseFixture(
  database: Pick<SqliteTestDatabase, 'store'>,
  opts: Omit<Options, 'store' | 'mode'> & { handler?: () => Promise<void> } = {},
) {
  const events: IdempotencyEvent[] = [];
  let executions = 0;
  const { handler, ...builderOptions } = opts;
  const idempotent = userIdempotent({
    store: database.store,
    mode: 'lease',
    onEvent: (event) => events.push(event),
    ...builderOptions,
  });
  const charge = idempotent.input(z.object({ amount: z.number() })).mutation(async ({ input }) => {
    executions++;
    await handler?.();
    return { charged: input.amount, execution: executions };
  });
  return { caller: callerOf({ charge }, 'alice'), events, executions: () => executions };
}

describe('idempotentProcedure', () => {
  it('runs the handler once for 50 concurrent calls with one key, and answers all alike', async ({
    database,
  }) => {
    const app = ledgerApp(database.store, {
      beforeCommit: () => new Promise((r) => setTimeout(r, 20)),
    });
    const idempotencyKey = newKey();
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        app.caller.pay({ idempotencyKey, label: 'rent', amount: 100 }),
      ),
    );
    expect(app.executions()).toBe(1);
    expect(database.countEntries()).toBe(1);
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(app.events.filter((e) => e.type === 'joined')).toHaveLength(49);
  });

  it('executes again for a different key with the same payload', async ({ database }) => {
    const app = ledgerApp(database.store);
    const first = await app.caller.pay({ idempotencyKey: newKey(), label: 'x', amount: 1 });
    const second = await app.caller.pay({ idempotencyKey: newKey(), label: 'x', amount: 1 });
    expect(app.executions()).toBe(2);
    expect(second.id).not.toBe(first.id);
    expect(database.countEntries()).toBe(2);
  });

  it('replays a completed key without running the handler', async ({ database }) => {
    const app = ledgerApp(database.store);
    const idempotencyKey = newKey();
    const first = await app.caller.pay({ idempotencyKey, label: 'x', amount: 5 });
    const retry = await app.caller.pay({ idempotencyKey, label: 'x', amount: 5 });
    expect(retry).toEqual(first);
    expect(app.executions()).toBe(1);
    expect(app.events.map((e) => e.type)).toEqual(['executed', 'replayed']);
  });

  it('keeps scopes apart: the same key from another principal is a new operation', async ({
    database,
  }) => {
    const app = ledgerApp(database.store);
    const idempotencyKey = newKey();
    const alice = await app.callerFor('alice').pay({ idempotencyKey, label: 'a', amount: 1 });
    // Different input too: for bob it must not be a mismatch, just his own operation.
    const bob = await app.callerFor('bob').pay({ idempotencyKey, label: 'b', amount: 2 });
    expect(bob.label).toBe('b');
    expect(alice.label).toBe('a');
    expect(app.executions()).toBe(2);
    expect(database.countRecords()).toBe(2);
  });

  it('ignores key order when fingerprinting', async ({ database }) => {
    const app = ledgerApp(database.store);
    const idempotencyKey = newKey();
    await app.caller.pay({ idempotencyKey, label: 'x', amount: 3 });
    await app.caller.pay({ amount: 3, label: 'x', idempotencyKey } as never);
    expect(app.executions()).toBe(1);
  });

  it('fingerprints the input as it arrived, so a handler mutating it does not break replay', async ({
    database,
  }) => {
    const idempotent = userIdempotent({ store: database.store });
    let executions = 0;
    const caller = callerOf({
      mutate: idempotent.input(z.object({ tags: z.array(z.string()) })).mutation(({ input }) => {
        executions++;
        input.tags.push('added-by-handler');
        return { tags: input.tags };
      }),
    });
    const idempotencyKey = newKey();
    const first = await caller.mutate({ idempotencyKey, tags: ['a'] });
    const retry = await caller.mutate({ idempotencyKey, tags: ['a'] });
    expect(retry).toEqual(first);
    expect(executions).toBe(1);
  });

  describe('key reuse', () => {
    it('answers UNPROCESSABLE_CONTENT for other input, and leaves the record alone', async ({
      database,
    }) => {
      const app = ledgerApp(database.store);
      const idempotencyKey = newKey();
      const first = await app.caller.pay({ idempotencyKey, label: 'x', amount: 1 });
      const error = await app.caller
        .pay({ idempotencyKey, label: 'x', amount: 2 })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TRPCError);
      expect(error).toMatchObject({
        code: 'UNPROCESSABLE_CONTENT',
        reason: 'IDEMPOTENCY_KEY_REUSED',
        message: expect.stringContaining('different input'),
      });
      expect(await app.caller.pay({ idempotencyKey, label: 'x', amount: 1 })).toEqual(first);
      expect(app.executions()).toBe(1);
    });

    it('answers UNPROCESSABLE_CONTENT for another procedure, naming the first', async ({
      database,
    }) => {
      const app = ledgerApp(database.store);
      const idempotencyKey = newKey();
      await app.caller.pay({ idempotencyKey, label: 'x', amount: 1 });
      await expect(app.caller.refund({ idempotencyKey, label: 'x' })).rejects.toMatchObject({
        code: 'UNPROCESSABLE_CONTENT',
        message: expect.stringContaining('`pay`'),
      });
    });

    it('settles a use with other input while the first is in flight at the commit: one executes, the other gets 422', async ({
      database,
    }) => {
      const hold = gate();
      const app = ledgerApp(database.store, {
        beforeCommit: (input) => (input.amount === 1 ? hold.opened : Promise.resolve()),
      });
      const idempotencyKey = newKey();
      // The first is held in its preparation; the mismatched use of its key commits first.
      const first = app.caller.pay({ idempotencyKey, label: 'x', amount: 1 }).catch((e) => e);
      const second = await app.caller.pay({ idempotencyKey, label: 'x', amount: 9 });
      hold.open();
      expect(await first).toMatchObject({ code: 'UNPROCESSABLE_CONTENT' });
      expect(database.countEntries()).toBe(1);
      // The stored record answers from now on, whatever was in flight.
      expect(await app.caller.pay({ idempotencyKey, label: 'x', amount: 9 })).toEqual(second);
    });
  });

  describe('key validation', () => {
    it.each([
      ['missing', undefined, 'is missing'],
      ['empty', '', '`idempotencyKey` is empty: it must be'],
      ['null', null, '`idempotencyKey` is missing: it must be'],
      ['too short', 'short', 'too short'],
      ['too long', 'k'.repeat(256), 'too long'],
      ['with a space', 'has a space in it ok', 'not allowed'],
      ['with a control character', 'line\nbreak-0123456789', 'not allowed'],
      ['SQL-looking', "x'; DROP TABLE idempotency_records;--", 'not allowed'],
      ['not a string', 1234567890123456, 'is a number'],
    ])('rejects a key %s with BAD_REQUEST and stores nothing', async (_label, key, problem) => {
      using database = sqliteTestDatabase();
      const app = ledgerApp(database.store);
      const error = await app.caller
        .pay({ idempotencyKey: key as string, label: 'x', amount: 1 })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'BAD_REQUEST' });
      expect((error as Error).message).toContain('`idempotencyKey`');
      expect((error as Error).message).toContain(problem);
      expect((error as Error).message).toContain('16–255 characters');
      expect(app.executions()).toBe(0);
      expect(database.countRecords()).toBe(0);
    });

    it('accepts UUIDs, ULIDs and prefixed UUIDs', async ({ database }) => {
      const app = ledgerApp(database.store);
      for (const idempotencyKey of [
        crypto.randomUUID(),
        '01ARZ3NDEKTSV4RRFFQ69G5FAV',
        `transfer:${crypto.randomUUID()}`,
      ]) {
        await app.caller.pay({ idempotencyKey, label: 'x', amount: 1 });
      }
      expect(app.executions()).toBe(3);
    });

    it('takes a configured key format', async ({ database }) => {
      const app = ledgerApp(database.store, {
        keyFormat: { minLength: 4, maxLength: 8, pattern: /^[a-z]+$/, patternDescription: 'a–z' },
      });
      await app.caller.pay({ idempotencyKey: 'abcd', label: 'x', amount: 1 });
      await expect(
        app.caller.pay({ idempotencyKey: 'abcdefghi', label: 'x', amount: 1 }),
      ).rejects.toThrow('4–8 characters (a–z)');
    });
  });

  it('stores nothing when the procedure’s own input validation rejects the request', async ({
    database,
  }) => {
    const app = ledgerApp(database.store);
    const idempotencyKey = newKey();
    await expect(app.caller.pay({ idempotencyKey, label: 'x', amount: 1.5 })).rejects.toMatchObject(
      { code: 'BAD_REQUEST' },
    );
    expect(database.countRecords()).toBe(0);
    // The corrected request may use the same key.
    await app.caller.pay({ idempotencyKey, label: 'x', amount: 2 });
    expect(app.executions()).toBe(1);
  });

  describe('outcomes', () => {
    it('stores a final error and replays it identically; a commit’s writes roll back', async ({
      database,
    }) => {
      const app = ledgerApp(database.store, {
        insideCommit: () => {
          throw new TRPCError({
            code: 'PRECONDITION_FAILED',
            message: 'insufficient funds',
            cause: Object.assign(new Error('balance too low'), { shortBy: 42 }),
          });
        },
      });
      const idempotencyKey = newKey();
      const pay = () => app.caller.pay({ idempotencyKey, amount: 50 }).catch((e: TRPCError) => e);
      const first = (await pay()) as TRPCError;
      const retry = (await pay()) as TRPCError;
      expect(first).toMatchObject({ code: 'PRECONDITION_FAILED', message: 'insufficient funds' });
      expect(retry).toMatchObject({ code: 'PRECONDITION_FAILED', message: 'insufficient funds' });
      expect(retry.cause).toMatchObject({ message: 'balance too low', shortBy: 42 });
      expect(first.cause).toMatchObject({ message: 'balance too low', shortBy: 42 });
      expect(app.executions()).toBe(1);
      expect(database.countEntries()).toBe(0);
    });

    it.for([
      ['an INTERNAL_SERVER_ERROR', () => new TRPCError({ code: 'INTERNAL_SERVER_ERROR' })],
      ['a TOO_MANY_REQUESTS', () => new TRPCError({ code: 'TOO_MANY_REQUESTS' })],
      ['a TIMEOUT', () => new TRPCError({ code: 'TIMEOUT' })],
      ['a plain Error', () => new Error('database connection lost')],
    ] as const)(
      'releases the key after %s; the retry executes and no writes remain',
      async ([_label, fail], { database }) => {
        let failures = 1;
        const app = ledgerApp(database.store, {
          insideCommit: () => {
            if (failures-- > 0) throw fail();
          },
        });
        const idempotencyKey = newKey();
        await expect(app.caller.pay({ idempotencyKey, amount: 7 })).rejects.toBeDefined();
        expect(database.countEntries()).toBe(0);
        expect(database.countRecords()).toBe(0);
        expect(await app.caller.pay({ idempotencyKey, amount: 7 })).toEqual({
          id: 1,
          label: 'pay',
          amount: 7,
        });
        expect(app.executions()).toBe(2);
        expect(database.countEntries()).toBe(1);
      },
    );

    it('takes a predicate for which errors are final', async ({ database }) => {
      let executions = 0;
      const idempotent = userIdempotent({
        store: database.store,
        isFinalError: (error) => error instanceof Error && error.message === 'card declined',
      });
      const caller = callerOf({
        charge: idempotent.mutation(() => {
          executions++;
          throw new Error('card declined');
        }),
      });
      const idempotencyKey = newKey();
      await expect(caller.charge({ idempotencyKey })).rejects.toThrow('card declined');
      await expect(caller.charge({ idempotencyKey })).rejects.toThrow('card declined');
      expect(executions).toBe(1);
    });

    it('is loud about a result larger than maxResponseBytes, and stores nothing', async ({
      database,
    }) => {
      const app = ledgerApp(database.store, { maxResponseBytes: 64 });
      const error = await app.caller
        .pay({ idempotencyKey: newKey(), label: 'x'.repeat(100), amount: 1 })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: 'INTERNAL_SERVER_ERROR',
        reason: 'IDEMPOTENCY_RESPONSE_NOT_STORABLE',
        message: expect.stringContaining('more than maxResponseBytes (64)'),
      });
      expect(database.countEntries()).toBe(0);
      expect(database.countRecords()).toBe(0);
    });

    it('is loud about an unserializable result (lease mode, no commit)', async ({ database }) => {
      const idempotent = userIdempotent({
        store: database.store,
        mode: 'lease',
      });
      const caller = callerOf({
        big: idempotent.mutation(() => ({ amount: 10n })),
      });
      await expect(caller.big({ idempotencyKey: newKey() })).rejects.toMatchObject({
        code: 'INTERNAL_SERVER_ERROR',
        message: expect.stringMatching(/could not be stored for replay: .*BigInt/),
      });
      expect(database.countRecords()).toBe(0);
    });

    it('replays a Date as a Date with superjson as the transformer', async ({ database }) => {
      const tj = initTRPC.context<UserContext>().create({ transformer: superjson });
      const idempotent = idempotentProcedure({
        procedure: tj.procedure,
        store: database.store,
        scope: ({ ctx }) => ctx.user,
        transformer: superjson,
      });
      const at = new Date('2026-11-26T12:00:00.000Z');
      const router = tj.router({
        stamp: idempotent.mutation(() => ({ at, tags: new Set(['a']) })),
      });
      const caller = tj.createCallerFactory(router)({ user: 'u' });
      const idempotencyKey = newKey();
      const first = await caller.stamp({ idempotencyKey });
      const retry = await caller.stamp({ idempotencyKey });
      expect(retry.at).toBeInstanceOf(Date);
      expect(retry.at.getTime()).toBe(at.getTime());
      expect(retry.tags).toEqual(new Set(['a']));
      expect(retry).toEqual(first);
    });
  });

  describe('in-flight duplicates in another process (lease mode)', () => {
    it('waits for another process’s execution by polling, then replays', async ({ database }) => {
      const hold = gate();
      const first = leaseFixture(database, { handler: () => hold.opened });
      const other = leaseFixture({ ...database, ...database.openSecond() });
      const idempotencyKey = newKey();
      const running = first.caller.charge({ idempotencyKey, amount: 1 });
      await expect.poll(() => first.executions()).toBe(1);
      const waiting = other.caller.charge({ idempotencyKey, amount: 1 });
      setTimeout(() => hold.open(), 100);
      const [a, b] = await Promise.all([running, waiting]);
      expect(b).toEqual(a);
      expect(first.executions() + other.executions()).toBe(1);
      const replayed = other.events.find((e) => e.type === 'replayed');
      expect(replayed && replayed.type === 'replayed' && replayed.waitedMs).toBeGreaterThan(0);
    });

    it('answers CONFLICT with retryAfterMs after the wait bound', async ({ database }) => {
      const hold = gate();
      const first = leaseFixture(database, { handler: () => hold.opened });
      const other = leaseFixture(
        { ...database, ...database.openSecond() },
        { inFlight: { timeoutMs: 50, retryAfterMs: 300 } },
      );
      const idempotencyKey = newKey();
      const running = first.caller.charge({ idempotencyKey, amount: 1 });
      await expect.poll(() => first.executions()).toBe(1);
      const error = await other.caller
        .charge({ idempotencyKey, amount: 1 })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: 'CONFLICT',
        reason: 'IDEMPOTENCY_IN_PROGRESS',
        retryAfterMs: 300,
      });
      hold.open();
      await running;
      expect(first.executions() + other.executions()).toBe(1);
    });

    it('answers CONFLICT at once with the reject policy', async ({ database }) => {
      const hold = gate();
      const first = leaseFixture(database, { handler: () => hold.opened });
      const other = leaseFixture(
        { ...database, ...database.openSecond() },
        { inFlight: { policy: 'reject' } },
      );
      const idempotencyKey = newKey();
      const running = first.caller.charge({ idempotencyKey, amount: 1 });
      await expect.poll(() => first.executions()).toBe(1);
      const started = performance.now();
      await expect(other.caller.charge({ idempotencyKey, amount: 1 })).rejects.toMatchObject({
        code: 'CONFLICT',
      });
      // No polling happened: straight back (bound generous for a busy machine).
      expect(performance.now() - started).toBeLessThan(1000);
      expect(other.events.map((e) => e.type)).toEqual(['conflict']);
      hold.open();
      await running;
    });
  });

  describe('in-flight duplicates in the same process (transactional)', () => {
    it('lets joined duplicates share a transient failure, then executes on retry', async ({
      database,
    }) => {
      let fail = true;
      const hold = gate();
      const app = ledgerApp(database.store, {
        beforeCommit: async () => {
          await hold.opened;
          if (fail) throw new Error('gateway timeout');
        },
      });
      const idempotencyKey = newKey();
      const calls = [1, 2, 3].map(() =>
        app.caller.pay({ idempotencyKey, label: 'x', amount: 1 }).catch((e: Error) => e),
      );
      hold.open();
      const results = await Promise.all(calls);
      expect(results.every((r) => r instanceof Error && r.message === 'gateway timeout')).toBe(
        true,
      );
      fail = false;
      await app.caller.pay({ idempotencyKey, label: 'x', amount: 1 });
      expect(app.executions()).toBe(2);
      expect(database.countEntries()).toBe(1);
    });
  });

  describe('expiry', () => {
    it('frees a key after its horizon (here equal to its TTL), and purge removes expired records only', async ({
      database,
    }) => {
      const clock = manualClock();
      const app = ledgerApp(database.store, { clock: clock.now, ttlMs: 60_000, horizonMs: 60_000 });
      const idempotencyKey = newKey();
      await app.caller.pay({ idempotencyKey, label: 'x', amount: 1 });
      clock.advance(30_000);
      await app.caller.pay({ idempotencyKey: newKey(), label: 'y', amount: 1 });
      await app.caller.pay({ idempotencyKey, label: 'x', amount: 1 });
      expect(app.executions()).toBe(2);

      clock.advance(30_000);
      // Not purged yet, but a lookup never returns the expired record.
      expect(
        await database.store.find({ scope: 'alice', key: idempotencyKey, now: clock.now() }),
      ).toBeUndefined();
      // With other input too: the key is simply free.
      await app.caller.pay({ idempotencyKey, label: 'changed', amount: 2 });
      expect(app.executions()).toBe(3);

      clock.advance(30_001);
      expect(await database.store.purge({ now: clock.now() })).toBe(1);
      expect(database.countRecords()).toBe(1);
    });
  });

  it('refuses queries and subscriptions at run time too (for untyped callers)', ({ database }) => {
    const idempotent = userIdempotent({ store: database.store });
    // @ts-expect-error a type error as well: see idempotentProcedure.test-d.ts
    expect(() => idempotent.query(() => 1)).toThrow(/mutations only/);
    // @ts-expect-error likewise
    expect(() => idempotent.input(z.object({})).subscription(() => 1)).toThrow(/mutations only/);
  });

  it('rejects an empty scope as a server misconfiguration', async ({ database }) => {
    const app = ledgerApp(database.store);
    await expect(
      app.callerFor('').pay({ idempotencyKey: newKey(), label: 'x', amount: 1 }),
    ).rejects.toMatchObject({ code: 'INTERNAL_SERVER_ERROR', message: /scope/ });
    expect(database.countRecords()).toBe(0);
  });

  it('validates its options', ({ database }) => {
    expect(() =>
      idempotentProcedure({
        procedure: t.procedure,
        store: database.store,
        scope: () => 's',
        ttlMs: 0,
      }),
    ).toThrow(/ttlMs must be a positive/);
  });
});

describe('in-flight duplicates in the same process', () => {
  it('answers CONFLICT at once with the reject policy, then replays once finished', async ({
    database,
  }) => {
    const app = ledgerApp(database.store, { inFlight: { policy: 'reject', retryAfterMs: 200 } });
    const hold = app.holdHandlers();
    const idempotencyKey = newKey();
    const first = app.caller.pay({ idempotencyKey, label: 'x', amount: 1 });
    await expect(app.caller.pay({ idempotencyKey, label: 'x', amount: 1 })).rejects.toMatchObject({
      code: 'CONFLICT',
      reason: 'IDEMPOTENCY_IN_PROGRESS',
      retryAfterMs: 200,
    });
    hold.open();
    const result = await first;
    expect(await app.caller.pay({ idempotencyKey, label: 'x', amount: 1 })).toEqual(result);
    expect(app.executions()).toBe(1);
  });

  it('answers CONFLICT after the wait bound instead of hanging with a stuck handler', async ({
    database,
  }) => {
    const app = ledgerApp(database.store, { inFlight: { timeoutMs: 40 } });
    const hold = app.holdHandlers();
    const idempotencyKey = newKey();
    const first = app.caller.pay({ idempotencyKey, label: 'x', amount: 1 });
    const started = performance.now();
    await expect(app.caller.pay({ idempotencyKey, label: 'x', amount: 1 })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);
    expect(app.events.map((e) => e.type)).toEqual(['conflict']);
    hold.open();
    await first;
    expect(app.executions()).toBe(1);
  });
});

it('says what to do when the store is created before its table exists', async () => {
  const { default: Database } = await import('better-sqlite3');
  const { drizzle } = await import('drizzle-orm/better-sqlite3');
  const { sqliteIdempotencyStore } = await import('../src/sqlite');
  const db = drizzle(new Database(':memory:'));
  expect(() => sqliteIdempotencyStore({ db })).toThrow(/call migrateSqliteIdempotencyStore\(db\)/);
});
