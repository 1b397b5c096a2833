// charge.ts: lease mode, for an effect outside your database
import { idempotentProcedure } from 'trpc-idempotency';
import { sqliteIdempotencyStore } from 'trpc-idempotency/sqlite';
import { z } from 'zod';
import { authed, db, t } from './quickstart/router.js';

const idempotentLease = idempotentProcedure({
  procedure: authed,
  store: sqliteIdempotencyStore({ db }),
  scope: ({ ctx }) => ctx.userId,
  mode: 'lease',
  leaseMs: 30_000, // if this process dies mid-call, a retry takes over after the lease
});

export const chargeRouter = t.router({
  charge: idempotentLease
    .input(z.object({ card: z.string(), amount: z.number().int().positive() }))
    .mutation(async ({ ctx, input }) => {
      const response = await fetch(
        `${process.env.PAYMENTS_URL ?? 'https://payments.example'}/charges`,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            // The same on every retry of this operation: the gateway charges once too.
            'idempotency-key': ctx.idempotency.downstreamKey('payments'),
          },
          body: JSON.stringify(input),
        },
      );
      // A plain Error is transient: the key is released, and a retry runs the handler again.
      if (!response.ok) throw new Error(`the payment gateway answered ${response.status}`);
      const { id } = (await response.json()) as { id: string };
      return { chargeId: id };
    }),
});
