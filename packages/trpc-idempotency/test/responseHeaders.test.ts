import { TRPCError } from '@trpc/server';
import { describe, expect, vi } from 'vitest';
import { z } from 'zod';
import { idempotentProcedure, isFinalErrorDefault } from '../src';
import { createEngine, idempotentRequest, isReplayedError } from '../src/server/engine';
import { createOutcomeCodec } from '../src/server/outcome';
import { httpTestServer, itServing } from './helpers/httpServer';
import { insufficientFunds } from './helpers/ledgerApp';
import { newKey, type SqliteTestDatabase } from './helpers/sqliteApp';
import { t } from './helpers/trpc';

/**
 * `pay` behind middlewares that rebuild the context (the base procedure's
 * and one on the builder): the replay record must survive both.
 */
function authedApp(database: SqliteTestDatabase) {
  let executions = 0;
  const authed = t.procedure.use(({ ctx, next }) => {
    if (!ctx.user) throw new TRPCError({ code: 'UNAUTHORIZED' });
    return next({ ctx: { userId: ctx.user } });
  });
  const idempotent = idempotentProcedure({
    procedure: authed,
    store: database.store,
    scope: ({ ctx }) => ctx.userId,
  }).use(({ ctx, next }) => next({ ctx: { ...ctx, audit: `by ${ctx.userId}` } }));
  const router = t.router({
    pay: idempotent.input(z.object({ amount: z.number().int() })).mutation(({ input }) => {
      executions++;
      if (input.amount > 1000) throw insufficientFunds();
      return { paid: input.amount };
    }),
    plain: t.procedure.input(z.object({ idempotencyKey: z.string() })).mutation(() => 'plain'),
  });
  return { router, executions: () => executions };
}

const it = itServing(authedApp);

describe('Idempotent-Replayed over HTTP', () => {
  it('marks a replayed success and a replayed stored error, never a first execution', async ({
    app,
    server,
  }) => {
    const idempotencyKey = newKey();

    const first = await server.mutate('pay', { idempotencyKey, amount: 5 });
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const replay = await server.mutate('pay', { idempotencyKey, amount: 5 });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await replay.text()).toBe(await first.text());

    const refusalKey = newKey();
    const refused = await server.mutate('pay', { idempotencyKey: refusalKey, amount: 5000 });
    expect(refused.status).toBe(412);
    expect(refused.headers.get('idempotent-replayed')).toBeNull();
    const refusedAgain = await server.mutate('pay', { idempotencyKey: refusalKey, amount: 5000 });
    expect(refusedAgain.status).toBe(412);
    expect(refusedAgain.headers.get('idempotent-replayed')).toBe('true');
    expect(app.executions()).toBe(2);
  });

  it('leaves errors that are not replays unmarked: a reused key, an invalid key, no user', async ({
    server,
  }) => {
    const idempotencyKey = newKey();
    await server.mutate('pay', { idempotencyKey, amount: 5 });
    const reused = await server.mutate('pay', { idempotencyKey, amount: 6 });
    expect(reused.status).toBe(422);
    const invalid = await server.mutate('pay', { idempotencyKey: 'short', amount: 6 });
    expect(invalid.status).toBe(400);
    const anonymous = await server.mutate('pay', { idempotencyKey, amount: 5 }, '');
    expect(anonymous.status).toBe(401);
    for (const response of [reused, invalid, anonymous]) {
      expect(response.headers.get('idempotent-replayed')).toBeNull();
    }
  });

  it('marks a batch only when every call in it was replayed', async ({ app, server }) => {
    const [a, b] = [newKey(), newKey()];
    await server.mutate('pay', { idempotencyKey: a, amount: 1 });

    const mixed = await server.mutateBatch([
      ['pay', { idempotencyKey: a, amount: 1 }],
      ['pay', { idempotencyKey: b, amount: 2 }],
    ]);
    expect(mixed.status).toBe(200);
    expect(mixed.headers.get('idempotent-replayed')).toBeNull();

    const allReplayed = await server.mutateBatch([
      ['pay', { idempotencyKey: b, amount: 2 }],
      ['pay', { idempotencyKey: a, amount: 1 }],
    ]);
    expect(allReplayed.headers.get('idempotent-replayed')).toBe('true');

    // One key twice in a batch: one executes, the other joins it. Not a replay as a whole.
    const c = newKey();
    const sameKey = await server.mutateBatch([
      ['pay', { idempotencyKey: c, amount: 3 }],
      ['pay', { idempotencyKey: c, amount: 3 }],
    ]);
    expect(sameKey.headers.get('idempotent-replayed')).toBeNull();

    // A plain mutation beside a replay: the response is not a replay as a whole.
    const withPlain = await server.mutateBatch([
      ['pay', { idempotencyKey: a, amount: 1 }],
      ['plain', { idempotencyKey: a }],
    ]);
    expect(withPlain.headers.get('idempotent-replayed')).toBeNull();
    expect(app.executions()).toBe(3);
  });

  it('sends no marker, and still replays, without idempotencyResponseContext in the context, and warns once in development', async ({
    app,
  }) => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      await using server = await httpTestServer(app.router, { responseContext: false });
      const idempotencyKey = newKey();
      await server.mutate('pay', { idempotencyKey, amount: 5 });
      const replay = await server.mutate('pay', { idempotencyKey, amount: 5 });
      expect(replay.status).toBe(200);
      expect(replay.headers.get('idempotent-replayed')).toBeNull();
      expect(warn.mock.calls).toEqual([
        [expect.stringMatching(/found no idempotencyResponseContext\(\) in the request context/)],
      ]);
    } finally {
      warn.mockRestore();
    }
  });

  it('does not warn when NODE_ENV is production', async () => {
    vi.resetModules();
    vi.stubEnv('NODE_ENV', 'production');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const { idempotencyResponseHeaders } = await import('../src/server/responseHeaders');
      expect(
        idempotencyResponseHeaders({ errors: [], ctx: { user: 'a' }, info: { calls: [{}] } }),
      ).toBeUndefined();
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
      vi.unstubAllEnvs();
    }
  });
});

describe('the engine’s answer (the contract the builder reads the marker from)', () => {
  it('resolves { value, replayed }, and marks a replayed stored error', async ({ database }) => {
    const engine = createEngine({
      store: database.store,
      mode: 'lease',
      codec: createOutcomeCodec({ maxResponseBytes: 1024 }),
      clock: Date.now,
      ttlMs: 60_000,
      horizonMs: 60_000,
      leaseMs: 10_000,
      inFlight: { policy: 'wait', timeoutMs: 100, retryAfterMs: 100 },
      isFinalError: isFinalErrorDefault,
      onEvent: undefined,
    });
    const key = newKey();
    const request = (idempotencyKey = key) =>
      idempotentRequest({ scope: 's', key: idempotencyKey, path: 'pay', fingerprint: 'f' });
    expect(await engine.execute(request(), async () => ({ paid: 1 }))).toEqual({
      value: { paid: 1 },
      replayed: false,
    });
    expect(await engine.execute(request(), async () => ({ paid: 2 }))).toEqual({
      value: { paid: 1 },
      replayed: true,
    });

    const refused = newKey();
    const fail = async () => {
      throw new TRPCError({ code: 'PRECONDITION_FAILED' });
    };
    const first = await engine.execute(request(refused), fail).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(TRPCError);
    expect(isReplayedError(first)).toBe(false);
    const again = await engine.execute(request(refused), fail).catch((e: unknown) => e);
    expect(again).toMatchObject({ code: 'PRECONDITION_FAILED' });
    expect(isReplayedError(again)).toBe(true);
  });
});
