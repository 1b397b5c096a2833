// deposit.test.ts: a procedure's own tests on the in-memory store, without a database
import { initTRPC } from '@trpc/server';
import { idempotentProcedure } from 'trpc-idempotency';
import { memoryIdempotencyStore } from 'trpc-idempotency/memory';
import { expect, it } from 'vitest';
import { z } from 'zod';

const t = initTRPC.context<{ userId: string }>().create();
const balances = new Map<string, number>();

const idempotent = idempotentProcedure({
  procedure: t.procedure,
  store: memoryIdempotencyStore(),
  scope: ({ ctx }) => ctx.userId,
});

const router = t.router({
  deposit: idempotent
    .input(z.object({ amount: z.number().int().positive() }))
    .mutation(({ ctx, input }) =>
      ctx.idempotency.commit((tx) => {
        const balance = (balances.get(ctx.userId) ?? 0) + input.amount;
        // Applied only if the record is stored, together with it.
        tx.onCommit(() => balances.set(ctx.userId, balance));
        return { balance };
      }),
    ),
});

it('deposits once per key, however often the call is retried', async () => {
  const caller = t.createCallerFactory(router)({ userId: 'ada' });
  const deposit = { idempotencyKey: 'deposit-0001-aaaa', amount: 5 };
  const first = await caller.deposit(deposit);
  expect(await caller.deposit(deposit)).toEqual(first);
  expect(await caller.deposit({ ...deposit, idempotencyKey: 'deposit-0002-bbbb' })).toEqual({
    balance: 10,
  });
  expect(balances.get('ada')).toBe(10);
});
