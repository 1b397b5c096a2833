import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import { initTRPC, TRPCError } from '@trpc/server';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { z as z3 } from 'zod/v3';
import { idempotentProcedure, KeyAnsweredElsewhere, type LeaseIdempotencyHandle } from '../src';
import type { MutationsOnly } from '../src/server/idempotentProcedureBuilder';
import type { NotAnObjectInputError } from '../src/server/keyedInput';
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
    // At the call site the key is optional: a link may add it.
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

describe('what the builder refuses at compile time', () => {
  const idempotent = idempotentProcedure({
    procedure: t.procedure,
    store: sqliteIdempotencyStore({ db }),
    scope: () => 'global',
  });

  it('builds mutations only: .query() and .subscription() are type errors, also further down the chain', () => {
    // @ts-expect-error an idempotent operation is a mutation
    idempotent.query(() => 1);
    // @ts-expect-error likewise
    idempotent.subscription(async function* () {});
    const derived = idempotent.input(z.object({ a: z.string() })).use(({ next }) => next());
    // @ts-expect-error every derived builder is still idempotent
    derived.query(() => 1);
    expectTypeOf(idempotent.query).parameter(0).toEqualTypeOf<MutationsOnly>();
    expectTypeOf(idempotent.meta({ audit: true }).mutation).toBeFunction();
  });

  it('refuses inputs the key cannot join, where their type says so', () => {
    // @ts-expect-error not an object: the key cannot be part of it
    idempotent.input(z.string());
    // @ts-expect-error an array input cannot carry the key either
    idempotent.input(z.array(z.object({ a: z.string() })));
    // @ts-expect-error a zod 3 strict object without the key rejects it
    idempotent.input(z3.object({ a: z3.string() }).strict());
    // @ts-expect-error the key makes the input required
    idempotent.input(z.object({ a: z.string() }).optional());
    expectTypeOf(idempotent.input<ReturnType<typeof z.string>>)
      .parameter(0)
      .toEqualTypeOf<NotAnObjectInputError>();

    // What the key can join: plain, loose and zod 3 strip objects, a strict one declaring the key.
    idempotent.input(z.object({ a: z.string() }));
    idempotent.input(z.looseObject({ a: z.string() }));
    idempotent.input(z3.object({ a: z3.string() }));
    idempotent.input(z3.object({ a: z3.string(), idempotencyKey: z3.string() }).strict());
    // Zod 4's strictObject has the same type as z.object: refused when .input() runs instead.
    idempotent.input(z.strictObject({ a: z.string() }));
  });

  it('shows ctx.idempotency to the resolver only: middlewares run before the idempotency step', () => {
    idempotent
      .use(({ ctx, next }) => {
        // @ts-expect-error no handle yet in a middleware
        ctx.idempotency;
        return next();
      })
      .mutation(({ ctx }) => {
        expectTypeOf(ctx.idempotency.key).toEqualTypeOf<string>();
      });
  });

  it('types KeyAnsweredElsewhere, what a commit answered elsewhere rejects with, as an Error of its own name', () => {
    expectTypeOf<KeyAnsweredElsewhere>().toExtend<Error>();
    expectTypeOf<KeyAnsweredElsewhere['name']>().toEqualTypeOf<'KeyAnsweredElsewhere'>();
    expectTypeOf(KeyAnsweredElsewhere).toBeConstructibleWith();
  });
});
