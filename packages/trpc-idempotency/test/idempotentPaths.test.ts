import { initTRPC, lazy } from '@trpc/server';
import { expect, test } from 'vitest';
import { z } from 'zod';
import { idempotentPaths, idempotentProcedure } from '../src';
import { sqliteTestDatabase } from './helpers/sqliteApp';

const t = initTRPC.context<{ userId: string }>().create();

function builders(store: ReturnType<typeof sqliteTestDatabase>['store']) {
  return idempotentProcedure({ procedure: t.procedure, store, scope: ({ ctx }) => ctx.userId });
}

test('lists the mutations idempotentProcedure built, nested, through .use() and without input', async () => {
  using database = sqliteTestDatabase();
  const idempotent = builders(database.store);
  const router = t.router({
    health: t.procedure.query(() => 'ok'),
    ping: idempotent.mutation(() => 'pong'),
    accounts: t.router({
      open: idempotent.input(z.object({ owner: z.string() })).mutation(() => 'a'),
      // Plain, though its input has a field named like the key.
      rename: t.procedure
        .input(z.object({ idempotencyKey: z.string().optional() }))
        .mutation(() => 'r'),
    }),
    transfers: {
      create: idempotent
        .use(({ next }) => next())
        .input(z.object({ amount: z.number() }))
        .mutation(() => 't'),
    },
  });

  expect(await idempotentPaths(router)).toEqual(['accounts.open', 'ping', 'transfers.create']);
});

test('loads lazy routers, nested ones too, before listing', async () => {
  using database = sqliteTestDatabase();
  const idempotent = builders(database.store);
  const inner = t.router({ pay: idempotent.mutation(() => 'paid') });
  const outer = t.router({
    billing: lazy(async () => inner),
    deep: lazy(async () => t.router({ more: lazy(async () => inner) })),
  });

  expect(await idempotentPaths(outer)).toEqual(['billing.pay', 'deep.more.pay']);
});

test('is empty for a router of plain procedures', async () => {
  const router = t.router({ save: t.procedure.mutation(() => 1) });
  expect(await idempotentPaths(router)).toEqual([]);
});
