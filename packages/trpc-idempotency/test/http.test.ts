import { TRPCError } from '@trpc/server';
import { describe, expect } from 'vitest';
import { httpTestServer, itServing } from './helpers/httpServer';
import { ledgerApp } from './helpers/ledgerApp';
import { newKey } from './helpers/sqliteApp';

/** Each test's own ledger (helpers/ledgerApp.ts), served over HTTP. */
const it = itServing((database) => ledgerApp(database.store));

/** Every row of the README's error tables, over real HTTP with raw fetch. */
describe('errors at a glance over HTTP', () => {
  it('key missing or malformed: 400 BAD_REQUEST, IDEMPOTENCY_KEY_INVALID, nothing stored', async ({
    database,
    app,
    server,
  }) => {
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
    expect(app.executions()).toBe(0);
    expect(database.countRecords()).toBe(0);
  });

  it('key reused with other input or procedure: 422, IDEMPOTENCY_KEY_REUSED', async ({
    server,
  }) => {
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

  it('still in progress after the wait bound: 409, retryAfterMs and Retry-After', async ({
    database,
  }) => {
    const first = ledgerApp(database.store, { inFlight: { timeoutMs: 30, retryAfterMs: 1500 } });
    const hold = first.holdHandlers();
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

  it('stored deterministic failure: replays the same status and body', async ({ app, server }) => {
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
    expect(app.executions()).toBe(1);
  });

  it('transient failure: 500, then the retry with the same key executes', async ({ database }) => {
    let failures = 1;
    const app = ledgerApp(database.store, {
      beforeCommit: () => {
        if (failures-- > 0) {
          throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'database unavailable' });
        }
      },
    });
    await using server = await httpTestServer(app.router);
    const idempotencyKey = newKey();
    expect((await server.mutate('pay', { idempotencyKey, amount: 500 })).status).toBe(500);
    expect((await server.mutate('pay', { idempotencyKey, amount: 500 })).status).toBe(200);
    expect(app.executions()).toBe(2);
    expect(database.countEntries()).toBe(1);
  });

  it('replays a success byte-identically, also for two calls in one batch', async ({
    app,
    server,
  }) => {
    const idempotencyKey = newKey();
    const batch = await server.mutateBatch([
      ['pay', { idempotencyKey, amount: 3 }],
      ['pay', { idempotencyKey, amount: 3 }],
    ]);
    const [one, two] = await batch.json();
    expect(two).toEqual(one);
    expect(app.executions()).toBe(1);
    const first = await (await server.mutate('pay', { idempotencyKey, amount: 3 })).text();
    const again = await (await server.mutate('pay', { idempotencyKey, amount: 3 })).text();
    expect(again).toBe(first);
    expect(JSON.parse(first).result.data).toEqual(one.result.data);
  });

  it('keeps users apart: the same key from another user executes anew', async ({ app, server }) => {
    const idempotencyKey = newKey();
    const alice = await (await server.mutate('pay', { idempotencyKey, amount: 1 }, 'alice')).json();
    const bob = await (await server.mutate('pay', { idempotencyKey, amount: 1 }, 'bob')).json();
    expect(bob.result.data.id).not.toBe(alice.result.data.id);
    expect(app.executions()).toBe(2);
  });
});
