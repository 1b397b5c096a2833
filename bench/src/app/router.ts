import { initTRPC, TRPCError } from '@trpc/server';
import { idempotentProcedure } from 'trpc-idempotency';
import { z } from 'zod';
import type { OpenBenchDatabase } from './database';
import { createDrizzleLedger } from './ledger';

/** The caller, as the ledger server has it: the `x-user-id` header, and the idempotency scope. */
export interface BenchContext {
  userId: string | undefined;
}

const t = initTRPC.context<BenchContext>().create({ isDev: false });

/** Both twins go through the same authentication middleware, as in the ledger server. */
const authed = t.procedure.use(({ ctx, next }) => {
  if (ctx.userId === undefined) {
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'send the x-user-id header' });
  }
  return next({ ctx: { userId: ctx.userId } });
});

const id = z.string().min(1).max(100);
export const transferInput = z.object({
  fromAccountId: id,
  toAccountId: id,
  amount: z.int().min(1),
});

/**
 * The benchmark's router: one transfer, twice. `plain.transfer` is an ordinary
 * mutation in its own `BEGIN IMMEDIATE` transaction; `idempotent.transfer` runs
 * the same statements through `ctx.idempotency.commit`. Nothing else differs.
 */
export function createBenchRouter(database: OpenBenchDatabase) {
  const { db, store } = database;
  const ledger = createDrizzleLedger(db);
  const idempotent = idempotentProcedure({
    procedure: authed,
    store,
    scope: ({ ctx }) => ctx.userId,
  });
  return t.router({
    plain: t.router({
      transfer: authed.input(transferInput).mutation(({ ctx, input }) =>
        db.transaction(() => ledger.transfer({ ...input, createdBy: ctx.userId }), {
          behavior: 'immediate',
        }),
      ),
    }),
    idempotent: t.router({
      transfer: idempotent
        .input(transferInput)
        .mutation(({ ctx, input }) =>
          ctx.idempotency.commit(() => ledger.transfer({ ...input, createdBy: ctx.userId })),
        ),
    }),
  });
}

export type BenchRouter = ReturnType<typeof createBenchRouter>;

/** A server-side caller of the bench router for one user. */
export function createBenchCaller(router: BenchRouter, userId: string) {
  return t.createCallerFactory(router)({ userId });
}
