import { TRPCError } from '@trpc/server';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { httpTestServer } from './helpers/httpServer';
import { entries, gate, newKey, sqliteTestDatabase } from './helpers/sqliteApp';
import { t, userIdempotent } from './helpers/trpc';

/** Every row of the README's error tables, over real HTTP with raw fetch. */
describe('errors at a glance over HTTP', () => {
  function app(database: ReturnType<typeof sqliteTestDatabase>, hold?: Promise<void>) {
    let executions = 0;
    let transientFailures = 0;
    const idempotent = userIdempotent({
      store: database.store,
      inFlight: { timeoutMs: 30, retryAfterMs: 1500 },
    });
    const router = t.router({
      pay: idempotent
        .input(z.object({ amount: z.number().int().positive() }))
        .mutation(async ({ ctx, input }) => {
          executions++;
          await hold;
          if (input.amount > 1000) {
            throw new TRPCError({ code: 'PRECONDITION_FAILED', message: 'insufficient funds' });
          }
          if (input.amount === 500 && transientFailures++ === 0) {
            throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'database unavailable' });
          }
          return ctx.idempotency.commit((tx) => {
            const row = tx
              .insert(entries)
              .values({ label: 'pay', amount: input.amount })
              .returning()
              .get();
            return { id: row.id, amount: row.amount };
          });
        }),
      refund: idempotent.input(z.object({ amount: z.number() })).mutation(() => ({ ok: true })),
    });
    return { router, executions: () => executions };
  }

  it('key missing or malformed: 400 BAD_REQUEST, IDEMPOTENCY_KEY_INVALID, nothing stored', async () => {
    using database = sqliteTestDatabase();
    const { router, executions } = app(database);
    await using server = await httpTestServer(router);
    for (const input of [{ amount: 1 }, { amount: 1, idempotencyKey: 'bad key!' }]) {
      const response = await server.mutate('pay', input);
      expect(response.status).toBe(400);
      const body = await response.json();
      expect(body.error.data).toMatchObject({
        code: 'BAD_REQUEST',
        httpStatus: 400,
        reason: 'IDEMPOTENCY_KEY_INVALID',
      });
      expect(body.error.message).toContain('`idempotencyKey`');
    }
    expect(executions()).toBe(0);
    expect(database.countRecords()).toBe(0);
  });

  it('key reused with other input or procedure: 422, IDEMPOTENCY_KEY_REUSED', async () => {
    using database = sqliteTestDatabase();
    const { router } = app(database);
    await using server = await httpTestServer(router);
    const idempotencyKey = newKey();
    expect((await server.mutate('pay', { idempotencyKey, amount: 1 })).status).toBe(200);
    for (const [path, amount] of [
      ['pay', 2],
      ['refund', 1],
    ] as const) {
      const response = await server.mutate(path, { idempotencyKey, amount });
      expect(response.status).toBe(422);
      expect((await response.json()).error.data).toMatchObject({
        code: 'UNPROCESSABLE_CONTENT',
        reason: 'IDEMPOTENCY_KEY_REUSED',
      });
    }
  });

  it('still in progress after the wait bound: 409, retryAfterMs and Retry-After', async () => {
    using database = sqliteTestDatabase();
    const hold = gate();
    const first = app(database, hold.opened);
    await using server = await httpTestServer(first.router);
    const idempotencyKey = newKey();
    const running = server.mutate('pay', { idempotencyKey, amount: 1 });
    while (first.executions() === 0) await new Promise((r) => setTimeout(r, 5));
    // A duplicate joins the running execution, and gives up after the wait bound.
    const response = await server.mutate('pay', { idempotencyKey, amount: 1 });
    expect(response.status).toBe(409);
    expect(response.headers.get('retry-after')).toBe('2');
    expect((await response.json()).error.data).toMatchObject({
      code: 'CONFLICT',
      reason: 'IDEMPOTENCY_IN_PROGRESS',
      retryAfterMs: 1500,
    });
    hold.open();
    const original = await (await running).text();
    // Retrying with the same key now replays, byte for byte.
    expect(await (await server.mutate('pay', { idempotencyKey, amount: 1 })).text()).toBe(original);
  });

  it('stored deterministic failure: replays the same status and body', async () => {
    using database = sqliteTestDatabase();
    const { router, executions } = app(database);
    await using server = await httpTestServer(router);
    const idempotencyKey = newKey();
    const first = await server.mutate('pay', { idempotencyKey, amount: 5000 });
    const retry = await server.mutate('pay', { idempotencyKey, amount: 5000 });
    expect(first.status).toBe(412);
    expect(retry.status).toBe(412);
    const [a, b] = [await first.json(), await retry.json()];
    delete a.error.data.stack;
    delete b.error.data.stack;
    expect(b).toEqual(a);
    expect(a.error).toMatchObject({ message: 'insufficient funds' });
    expect(executions()).toBe(1);
  });

  it('transient failure: 500, then the retry with the same key executes', async () => {
    using database = sqliteTestDatabase();
    const { router, executions } = app(database);
    await using server = await httpTestServer(router);
    const idempotencyKey = newKey();
    expect((await server.mutate('pay', { idempotencyKey, amount: 500 })).status).toBe(500);
    expect((await server.mutate('pay', { idempotencyKey, amount: 500 })).status).toBe(200);
    expect(executions()).toBe(2);
    expect(database.countEntries()).toBe(1);
  });

  it('replays a success byte-identically, also for two calls in one batch', async () => {
    using database = sqliteTestDatabase();
    const { router, executions } = app(database);
    await using server = await httpTestServer(router);
    const idempotencyKey = newKey();
    const batch = await fetch(`${server.url}/pay,pay?batch=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': 'alice' },
      body: JSON.stringify({ 0: { idempotencyKey, amount: 3 }, 1: { idempotencyKey, amount: 3 } }),
    });
    const [one, two] = await batch.json();
    expect(two).toEqual(one);
    expect(executions()).toBe(1);
    const first = await (await server.mutate('pay', { idempotencyKey, amount: 3 })).text();
    const again = await (await server.mutate('pay', { idempotencyKey, amount: 3 })).text();
    expect(again).toBe(first);
    expect(JSON.parse(first).result.data).toEqual(one.result.data);
  });

  it('keeps users apart: the same key from another user executes anew', async () => {
    using database = sqliteTestDatabase();
    const { router, executions } = app(database);
    await using server = await httpTestServer(router);
    const idempotencyKey = newKey();
    const alice = await (await server.mutate('pay', { idempotencyKey, amount: 1 }, 'alice')).json();
    const bob = await (await server.mutate('pay', { idempotencyKey, amount: 1 }, 'bob')).json();
    expect(bob.result.data.id).not.toBe(alice.result.data.id);
    expect(executions()).toBe(2);
  });
});
