/**
 * What each tRPC internal in `src/internal/trpc.ts` buys, per call: the same
 * procedure with and without the tRPC step the public API would add instead.
 * Run with `pnpm --filter trpc-idempotency exec vitest bench --run test/trpcInternals.bench.ts`;
 * not part of `pnpm test` (no timing thresholds in tests).
 */
import { initTRPC } from '@trpc/server';
import { bench, describe } from 'vitest';
import { z } from 'zod';

const t = initTRPC.context<{ user: string }>().create();
const schema = z.object({ amount: z.number() });
const keyStep = t.middleware(async ({ getRawInput, next }) => {
  await getRawInput();
  return next();
});
const resolver = ({ input }: { input: unknown }) => input;
const router = t.router({
  fused: t.procedure.input(schema).mutation(resolver),
  keyStep: t.procedure.use(keyStep).input(schema).mutation(resolver),
  errorsStep: t.procedure
    .errors(() => undefined)
    .input(schema)
    .mutation(resolver),
});
const caller = t.createCallerFactory(router)({ user: 'u' });
const input = { amount: 1, idempotencyKey: 'k'.repeat(16) };

describe('a tRPC step per call', () => {
  bench(
    'no step of its own: what the internals allow (key check fused, errors shaped in the wrapper)',
    async () => {
      await caller.fused(input);
    },
  );
  bench('the key check as a step of its own (public .use())', async () => {
    await caller.keyStep(input);
  });
  bench('error formatting as a step of its own (public .errors())', async () => {
    await caller.errorsStep(input);
  });
});
