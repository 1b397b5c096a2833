/**
 * One event per request that reaches the idempotency step, on every path —
 * the layer's own failures included — so events partition requests and the
 * counters built on them add up; and scopes of any length on both stores.
 */
import { TRPCError } from '@trpc/server';
import { describe, expect } from 'vitest';
import { z } from 'zod';
import { type IdempotencyEvent, idempotentProcedure } from '../src';
import { entries, gate, it, newKey, type SqliteTestDatabase } from './helpers/sqliteApp';
import { t, userIdempotent } from './helpers/trpc';

function app(
  store: SqliteTestDatabase['store'],
  opts: { maxResponseBytes?: number; hold?: Promise<void> },
) {
  const events: IdempotencyEvent[] = [];
  const idempotent = userIdempotent({
    store,
    onEvent: (event) => events.push(event),
    inFlight: { timeoutMs: 50 },
    maxResponseBytes: opts.maxResponseBytes,
  });
  const router = t.router({
    pay: idempotent
      .input(z.object({ amount: z.number().int() }))
      .mutation(async ({ ctx, input }) => {
        await opts.hold;
        if (input.amount < 0) throw new TRPCError({ code: 'BAD_REQUEST', message: 'negative' });
        if (input.amount === 0) throw new Error('transient');
        return ctx.idempotency.commit((tx) => {
          tx.insert(entries)
            .values({ label: 'x'.repeat(input.amount), amount: 1 })
            .run();
          return { label: 'x'.repeat(input.amount) };
        });
      }),
  });
  return { events, caller: (user = 'alice') => t.createCallerFactory(router)({ user }) };
}

const settle = (promise: Promise<unknown>) =>
  promise.then(
    () => 'ok',
    (error: unknown) => (error instanceof TRPCError ? error.code : 'error'),
  );

describe('events', () => {
  it('emits exactly one event per request, on every path', async ({ database }) => {
    const hold = gate();
    const { events, caller } = app(database.store, { maxResponseBytes: 200 });
    const held = app(database.store, { hold: hold.opened });
    const key = newKey();
    const answers = [
      await settle(caller().pay({ idempotencyKey: key, amount: 1 })), // executed
      await settle(caller().pay({ idempotencyKey: key, amount: 1 })), // replayed
      await settle(caller().pay({ idempotencyKey: key, amount: 2 })), // mismatch
      await settle(caller().pay({ idempotencyKey: newKey(), amount: 0 })), // released
      await settle(caller().pay({ idempotencyKey: newKey(), amount: -1 })), // executed (error)
      await settle(caller().pay({ idempotencyKey: newKey(), amount: 500 })), // failed: too large
    ];
    // A duplicate that joins an execution in flight, and one that gives up on it (50 ms).
    const runningKey = newKey();
    const running = settle(held.caller().pay({ idempotencyKey: runningKey, amount: 3 }));
    const joined = settle(held.caller().pay({ idempotencyKey: runningKey, amount: 3 }));
    await new Promise((resolve) => setTimeout(resolve, 80));
    hold.open();
    answers.push(await running, await joined);
    expect(answers).toEqual([
      'ok',
      'ok',
      'UNPROCESSABLE_CONTENT',
      'INTERNAL_SERVER_ERROR',
      'BAD_REQUEST',
      'INTERNAL_SERVER_ERROR',
      'ok',
      'CONFLICT',
    ]);
    expect(events.map((event) => event.type)).toEqual([
      'executed',
      'replayed',
      'mismatch',
      'released',
      'executed',
      'failed',
    ]);
    expect(events.at(-1)).toMatchObject({ reason: 'IDEMPOTENCY_RESPONSE_NOT_STORABLE' });
    expect(held.events.map((event) => event.type).sort()).toEqual(['conflict', 'executed']);
  });

  it('emits `failed` with the store’s reason when the store fails, and answers without its details', async ({
    database,
  }) => {
    const { events, caller } = app(database.store, {});
    database.db.$client.exec('DROP TABLE idempotency_records');
    const error = await caller()
      .pay({ idempotencyKey: newKey(), amount: 1 })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'INTERNAL_SERVER_ERROR',
      reason: 'IDEMPOTENCY_STORE_UNAVAILABLE',
      message: 'the idempotency store is unavailable; retry with the same idempotency key',
    });
    expect(String((error as Error).message)).not.toMatch(/idempotency_records|select/i);
    expect(events).toEqual([
      expect.objectContaining({ type: 'failed', reason: 'IDEMPOTENCY_STORE_UNAVAILABLE' }),
    ]);
  });

  it('an empty scope and input that cannot be fingerprinted also end in one `failed` event, with the reason their error carries', async ({
    database,
  }) => {
    const events: IdempotencyEvent[] = [];
    let executions = 0;
    const idempotent = idempotentProcedure({
      procedure: t.procedure,
      store: database.store,
      scope: ({ ctx }) => {
        if (ctx.user === 'throws') throw new TRPCError({ code: 'UNAUTHORIZED' });
        return ctx.user;
      },
      onEvent: (event) => events.push(event),
    });
    const router = t.router({
      store: idempotent.input(z.object({ value: z.unknown() })).mutation(() => ++executions),
    });
    const callAs = (user: string, value: unknown) =>
      t
        .createCallerFactory(router)({ user })
        .store({ idempotencyKey: newKey(), value })
        .catch((error: unknown) => error);

    expect(await callAs('', 1)).toMatchObject({
      code: 'INTERNAL_SERVER_ERROR',
      reason: 'IDEMPOTENCY_SCOPE_INVALID',
      message: expect.stringMatching(/scope for `store` is empty/),
    });
    expect(await callAs('throws', 1)).toMatchObject({ code: 'UNAUTHORIZED' });
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(await callAs('alice', cyclic)).toMatchObject({
      code: 'BAD_REQUEST',
      reason: 'IDEMPOTENCY_INPUT_NOT_FINGERPRINTABLE',
      message: expect.stringMatching(/holds a cycle/),
    });
    expect(await callAs('alice', () => 1)).toMatchObject({
      reason: 'IDEMPOTENCY_INPUT_NOT_FINGERPRINTABLE',
    });
    expect(events).toEqual([
      expect.objectContaining({ type: 'failed', reason: 'IDEMPOTENCY_SCOPE_INVALID', scope: '' }),
      expect.objectContaining({ type: 'failed', reason: 'IDEMPOTENCY_SCOPE_INVALID', scope: '' }),
      expect.objectContaining({
        type: 'failed',
        reason: 'IDEMPOTENCY_INPUT_NOT_FINGERPRINTABLE',
        scope: 'alice',
        path: 'store',
      }),
      expect.objectContaining({ type: 'failed', reason: 'IDEMPOTENCY_INPUT_NOT_FINGERPRINTABLE' }),
    ]);
    expect(executions).toBe(0);
    expect(database.countRecords()).toBe(0);
  });

  it('joined duplicates of a transient failure each get one `joined` event with outcome none', async ({
    database,
  }) => {
    const hold = gate();
    const { events, caller } = app(database.store, { hold: hold.opened });
    const key = newKey();
    const calls = [1, 2, 3].map(() => settle(caller().pay({ idempotencyKey: key, amount: 0 })));
    hold.open();
    expect(await Promise.all(calls)).toEqual(Array(3).fill('INTERNAL_SERVER_ERROR'));
    expect(events.map((event) => event.type).sort()).toEqual(['joined', 'joined', 'released']);
    expect(events.filter((event) => event.type === 'joined')).toEqual([
      expect.objectContaining({ outcome: 'none' }),
      expect.objectContaining({ outcome: 'none' }),
    ]);
  });
});

describe('scopes of any length', () => {
  it('stores a scope longer than 200 bytes as its hash: it works, and two long scopes stay apart', async ({
    database,
  }) => {
    const { events, caller } = app(database.store, {});
    const long = 'tenant-'.repeat(500); // 3 500 characters
    const key = newKey();
    expect(await settle(caller(long).pay({ idempotencyKey: key, amount: 1 }))).toBe('ok');
    expect(await settle(caller(`${long}x`).pay({ idempotencyKey: key, amount: 2 }))).toBe('ok');
    expect(await settle(caller(long).pay({ idempotencyKey: key, amount: 1 }))).toBe('ok');
    expect(events.map((event) => event.type)).toEqual(['executed', 'executed', 'replayed']);
    expect(events[0]!.scope).toMatch(/^sha256:[A-Za-z0-9_-]{43}$/);
    expect(events[1]!.scope).not.toBe(events[0]!.scope);
    // A caller cannot name another scope's stored form: it is hashed in turn.
    expect(await settle(caller(events[0]!.scope).pay({ idempotencyKey: key, amount: 1 }))).toBe(
      'ok',
    );
    expect(events.at(-1)).toMatchObject({ type: 'executed' });
  });
});
