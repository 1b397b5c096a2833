// payout.ts: a multi-step handler; a take-over after a crash resumes after the finished steps
import { TRPCError } from '@trpc/server';
import { idempotentProcedure } from 'trpc-idempotency';
import { sqliteIdempotencyStore } from 'trpc-idempotency/sqlite';
import { z } from 'zod';
import { authed, db, t } from './quickstart/router.js';

const idempotentLease = idempotentProcedure({
  procedure: authed,
  store: sqliteIdempotencyStore({ db }),
  scope: ({ ctx }) => ctx.userId,
  mode: 'lease',
});

const gateway = process.env.PAYOUTS_URL ?? 'https://payouts.example';

export const payoutRouter = t.router({
  payout: idempotentLease
    .input(z.object({ account: z.string(), amount: z.number().int().positive() }))
    .mutation(async ({ ctx, input }) => {
      // Runs once per key: after a crash, a retry gets this result back without running it.
      const reservation = await ctx.idempotency.step('reserve', async () => {
        const response = await fetch(`${gateway}/reservations`, {
          method: 'POST',
          body: JSON.stringify(input),
        });
        if (response.status === 409) {
          throw new TRPCError({ code: 'PRECONDITION_FAILED', message: 'insufficient funds' });
        }
        return (await response.json()) as { reservationId: string };
      });
      // If the crash cut this step off, it runs again: the downstream key makes that a no-op.
      const payment = await ctx.idempotency.step('pay', async () => {
        const response = await fetch(`${gateway}/payouts`, {
          method: 'POST',
          headers: { 'idempotency-key': ctx.idempotency.downstreamKey('pay') },
          body: JSON.stringify(reservation),
        });
        if (!response.ok) throw new Error(`the payout gateway answered ${response.status}`);
        return (await response.json()) as { payoutId: string };
      });
      return { ...reservation, ...payment, attempt: ctx.idempotency.attempt };
    }),
});
