import { initTRPC, TRPCError } from '@trpc/server';
import { describe, expect } from 'vitest';
import type { IdempotencyEvent } from '../../server/events';
import { idempotentProcedure } from '../../server/idempotentProcedure';
import { type ConformanceFixture, type SuiteContext, T0, writeThen } from './fixture';

// A type alias: tRPC merges object inputs only when they are `Record`-compatible.
type TransferInput = {
  amount: number;
  /** Rich values a transformer (superjson) can carry: they must fingerprint apart. */
  tags?: Map<string, number>;
  idempotencyKey?: string;
};

const KEY = 'conformance-execution-key-1';

/** A router with one transactional and one lease-mode procedure on the fixture's store. */
function createApp<TTx>(
  fixture: ConformanceFixture<TTx>,
  opts: { ttlMs?: number; horizonMs?: number; leaseMs?: number } = {},
) {
  const events: IdempotencyEvent[] = [];
  const clock = { now: T0 };
  const t = initTRPC.create();
  const common = {
    procedure: t.procedure,
    store: fixture.store,
    scope: () => 'tenant-1',
    clock: () => clock.now,
    onEvent: (event: IdempotencyEvent) => events.push(event),
    ...opts,
  };
  const parseTransfer = (raw: unknown) => raw as TransferInput;
  let executions = 0;
  const gates: Array<() => void> = [];
  const transactional = idempotentProcedure(common)
    .input(parseTransfer)
    .mutation(async ({ ctx, input }) => {
      executions++;
      if (input.amount < 0) throw new TRPCError({ code: 'BAD_REQUEST', message: 'negative' });
      if (input.amount === 0) throw new Error('transient failure');
      return ctx.idempotency.commit(
        writeThen(fixture, input.amount, () => ({ amount: input.amount })) as never,
      );
    });
  const calls: string[] = [];
  const lease = idempotentProcedure({ ...common, mode: 'lease' })
    .input(parseTransfer)
    .mutation(async ({ ctx, input }) => {
      executions++;
      const reserved = await ctx.idempotency.step('reserve', () => {
        calls.push('reserve');
        return { reservation: `r-${input.amount}` };
      });
      const charged = await ctx.idempotency.step('charge', async () => {
        calls.push(`charge:${ctx.idempotency.downstreamKey('charge')}`);
        // The first execution "crashes" here: it never gets past this point on its own.
        if (ctx.idempotency.attempt === 1)
          await new Promise<void>((resolve) => gates.push(resolve));
        return { charge: `ch-${input.amount}` };
      });
      return { ...reserved, ...charged, attempt: ctx.idempotency.attempt };
    });
  const router = t.router({ transactional, lease });
  const caller = t.createCallerFactory(router)({});
  return {
    caller,
    events,
    clock,
    calls,
    gates,
    executions: () => executions,
  };
}

/** A request's answer as data or error code, for comparing many at once. */
const settle = (promise: Promise<unknown>) =>
  promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ code: error instanceof TRPCError ? error.code : String(error) }),
  );

/** The engine's guarantees, run through `idempotentProcedure` on the store under test. */
export function describeExecution<TTx>(suite: SuiteContext<TTx>) {
  const { it, concurrency } = suite;

  describe('requests through idempotentProcedure', () => {
    it(`executes ${concurrency} identical concurrent requests once, with one answer`, async ({
      fixture,
    }) => {
      const app = createApp(fixture);
      const answers = await Promise.all(
        Array.from({ length: concurrency }, () =>
          settle(app.caller.transactional({ idempotencyKey: KEY, amount: 5 })),
        ),
      );
      expect(answers).toEqual(Array(concurrency).fill({ value: { amount: 5 } }));
      expect(app.executions()).toBe(1);
      expect(await fixture.probe.count()).toBe(1);
      expect(app.events).toHaveLength(concurrency);
    });

    it('answers a legitimate retry with the stored outcome while a mismatched use is in flight', async ({
      fixture,
    }) => {
      const app = createApp(fixture);
      await app.caller.transactional({ idempotencyKey: KEY, amount: 5 });
      const answers = await Promise.all(
        Array.from({ length: concurrency }, (_, i) =>
          settle(app.caller.transactional({ idempotencyKey: KEY, amount: i % 2 ? 6 : 5 })),
        ),
      );
      answers.forEach((answer, i) => {
        expect(answer, `request ${i}`).toEqual(
          i % 2 ? { code: 'UNPROCESSABLE_CONTENT' } : { value: { amount: 5 } },
        );
      });
      expect(await fixture.probe.count()).toBe(1);
    });

    it('tells rich inputs apart: the same key with another Map is 422, not a replay', async ({
      fixture,
    }) => {
      const app = createApp(fixture);
      const first = { idempotencyKey: KEY, amount: 5, tags: new Map([['a', 1]]) };
      expect(await settle(app.caller.transactional(first))).toEqual({ value: { amount: 5 } });
      const other = { idempotencyKey: KEY, amount: 5, tags: new Map([['evil', 999_999]]) };
      expect(await settle(app.caller.transactional(other))).toEqual({
        code: 'UNPROCESSABLE_CONTENT',
      });
      expect(app.executions()).toBe(1);
    });

    it('stores a final error and replays it; a transient one leaves the key free', async ({
      fixture,
    }) => {
      const app = createApp(fixture);
      const final = { idempotencyKey: KEY, amount: -1 };
      expect(await settle(app.caller.transactional(final))).toEqual({ code: 'BAD_REQUEST' });
      expect(await settle(app.caller.transactional(final))).toEqual({ code: 'BAD_REQUEST' });
      expect(app.executions()).toBe(1);
      const transient = { idempotencyKey: `${KEY}-transient`, amount: 0 };
      await settle(app.caller.transactional(transient));
      await settle(app.caller.transactional(transient));
      expect(app.executions()).toBe(3);
      expect(app.events.map((event) => event.type)).toEqual([
        'executed',
        'replayed',
        'released',
        'released',
      ]);
    });

    it('past the TTL answers the tombstone, concurrently too: never a second execution; free after the horizon', async ({
      fixture,
    }) => {
      const app = createApp(fixture, { ttlMs: 1000, horizonMs: 5000 });
      await app.caller.transactional({ idempotencyKey: KEY, amount: 5 });
      app.clock.now = T0 + 1000;
      const answers = await Promise.all(
        Array.from({ length: concurrency }, (_, i) =>
          settle(app.caller.transactional({ idempotencyKey: KEY, amount: i % 2 ? 6 : 5 })),
        ),
      );
      answers.forEach((answer, i) => {
        expect(answer, `request ${i}`).toEqual({
          code: i % 2 ? 'UNPROCESSABLE_CONTENT' : 'NOT_FOUND',
        });
      });
      expect(app.executions()).toBe(1);
      // Purge drops the response; the key stays bound until the horizon.
      expect(await fixture.store.purge({ now: T0 + 1000 })).toBe(1);
      expect(await settle(app.caller.transactional({ idempotencyKey: KEY, amount: 5 }))).toEqual({
        code: 'NOT_FOUND',
      });
      app.clock.now = T0 + 5000;
      expect(await settle(app.caller.transactional({ idempotencyKey: KEY, amount: 6 }))).toEqual({
        value: { amount: 6 },
      });
      expect(app.executions()).toBe(2);
      expect(await fixture.probe.count()).toBe(2);
      // Identical requests in one process join the first (their event says `joined`).
      const types = app.events.map((event) => event.type);
      expect(types.filter((type) => type === 'executed')).toHaveLength(2);
      expect(types.filter((type) => type === 'expired')).toHaveLength(2);
    });

    it('takes a crashed lease over only for its own input, whatever the TTL, resuming after finished steps', async ({
      fixture,
    }) => {
      // A TTL no longer than the lease: the key must still stay bound to its input.
      const app = createApp(fixture, { ttlMs: 5000, leaseMs: 5000 });
      const crashed = settle(app.caller.lease({ idempotencyKey: KEY, amount: 7 }));
      await expect.poll(() => app.gates.length).toBe(1);
      app.clock.now = T0 + 6000; // its lease is over, and so would its TTL be from the claim

      const other = await settle(app.caller.lease({ idempotencyKey: KEY, amount: 8 }));
      expect(other).toEqual({ code: 'UNPROCESSABLE_CONTENT' });

      const resumed = await settle(app.caller.lease({ idempotencyKey: KEY, amount: 7 }));
      expect(resumed).toEqual({ value: { reservation: 'r-7', charge: 'ch-7', attempt: 2 } });
      // The finished step did not run again; the one cut off ran with the same downstream key.
      expect(app.calls.filter((call) => call === 'reserve')).toHaveLength(1);
      const charges = app.calls.filter((call) => call.startsWith('charge:'));
      expect(charges).toHaveLength(2);
      expect(charges[0]).toBe(charges[1]);
      expect(app.events.at(-1)).toMatchObject({
        type: 'executed',
        attempt: 2,
        takenOver: true,
        stepsSkipped: ['reserve'],
        stepsRun: ['charge'],
      });

      // The crashed execution wakes up late: its completion is fenced off.
      app.gates[0]!();
      expect(await crashed).toEqual({ code: 'CONFLICT' });
      expect(await settle(app.caller.lease({ idempotencyKey: KEY, amount: 7 }))).toEqual(resumed);
    });
  });
}
