import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import { initTRPC, TRPCError } from '@trpc/server';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { idempotentProcedure, type LeaseIdempotencyHandle } from '../src';
import { type SqliteIdempotencyStore, sqliteIdempotencyStore } from '../src/sqlite';
import type { entries } from './helpers/sqliteApp';

type Db = BetterSQLite3Database<{ entries: typeof entries }> & {
  $client: import('better-sqlite3').Database;
};
declare const db: Db;
type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

const t = initTRPC
  .context<{ session: { userId: string } | null }>()
  .meta<{ audit: boolean }>()
  .create();
const authed = t.procedure.use(({ ctx, next }) => {
  if (!ctx.session) throw new TRPCError({ code: 'UNAUTHORIZED' });
  return next({ ctx: { userId: ctx.session.userId } });
});

describe('idempotentProcedure types', () => {
  it('keeps the user’s context, meta and input, and adds the key and the handle', () => {
    const idempotent = idempotentProcedure({
      procedure: authed,
      store: sqliteIdempotencyStore({ db }),
      // The scope function sees the context the base procedure's middleware made.
      scope: ({ ctx }) => {
        expectTypeOf(ctx.userId).toEqualTypeOf<string>();
        return ctx.userId;
      },
    });
    const router = t.router({
      pay: idempotent
        .meta({ audit: true })
        .input(z.object({ amount: z.number() }))
        .mutation(({ ctx, input }) => {
          expectTypeOf(input).toEqualTypeOf<{ amount: number; idempotencyKey: string }>();
          expectTypeOf(ctx.userId).toEqualTypeOf<string>();
          expectTypeOf(ctx.idempotency.key).toEqualTypeOf<string>();
          return ctx.idempotency.commit((tx) => {
            expectTypeOf(tx).toEqualTypeOf<Tx>();
            return { paid: input.amount };
          });
        }),
    });
    // At the call site the key is optional: a link may add it (SPEC 7.2).
    expectTypeOf<inferRouterInputs<typeof router>['pay']>().toEqualTypeOf<{
      amount: number;
      idempotencyKey?: string | undefined;
      // The brand that tells clients this mutation is idempotent; optional, type-only.
      readonly '~idempotent'?: true;
    }>();
    expectTypeOf<inferRouterOutputs<typeof router>['pay']>().toEqualTypeOf<{ paid: number }>();
  });

  it('requires the key to be a string and the user input to match', () => {
    const idempotent = idempotentProcedure({
      procedure: t.procedure,
      store: sqliteIdempotencyStore({ db }),
      scope: () => 'global',
    });
    const router = t.router({
      pay: idempotent.input(z.object({ amount: z.number() })).mutation(() => 1),
    });
    const caller = t.createCallerFactory(router)({ session: null });
    caller.pay({ amount: 1 });
    // @ts-expect-error the key is a string
    caller.pay({ amount: 1, idempotencyKey: 1 });
    // @ts-expect-error the user's own input is still required
    caller.pay({ idempotencyKey: 'k' });
  });

  it('gives lease mode no commit, and refuses async commit callbacks on SQLite', () => {
    const store: SqliteIdempotencyStore<Tx> = sqliteIdempotencyStore({ db });
    const lease = idempotentProcedure({
      procedure: t.procedure,
      store,
      scope: () => 's',
      mode: 'lease',
    });
    lease.mutation(({ ctx }) => {
      expectTypeOf(ctx.idempotency).toEqualTypeOf<LeaseIdempotencyHandle>();
      // @ts-expect-error no transaction handle in lease mode
      ctx.idempotency.commit;
      return ctx.idempotency.downstreamKey('stripe');
    });
    const transactional = idempotentProcedure({ procedure: t.procedure, store, scope: () => 's' });
    transactional.mutation(({ ctx }) => {
      // @ts-expect-error no lease in transactional mode: nothing is claimed before the commit
      ctx.idempotency.renewLease;
      // @ts-expect-error no steps in transactional mode: the commit is all or nothing
      ctx.idempotency.step;
      return (
        // @ts-expect-error commit() runs a synchronous SQLite transaction
        ctx.idempotency.commit(async () => 1)
      );
    });
  });

  it('types a lease-mode step by what its function returns', () => {
    const lease = idempotentProcedure({
      procedure: t.procedure,
      store: sqliteIdempotencyStore({ db }),
      scope: () => 's',
      mode: 'lease',
    });
    lease.mutation(async ({ ctx }) => {
      const reserved = await ctx.idempotency.step('reserve', () => ({ reservation: 'r_1' }));
      expectTypeOf(reserved).toEqualTypeOf<{ reservation: string }>();
      const charged = await ctx.idempotency.step('charge', async () => 42);
      expectTypeOf(charged).toEqualTypeOf<number>();
      // @ts-expect-error a step has a name
      ctx.idempotency.step(() => 1);
      return { reserved, charged };
    });
  });

  it('types the scope function against the base context', () => {
    idempotentProcedure({
      procedure: t.procedure,
      store: sqliteIdempotencyStore({ db }),
      // @ts-expect-error `session` may be null here: the plain procedure has no auth middleware
      scope: ({ ctx }) => ctx.session.userId,
    });
  });
});
