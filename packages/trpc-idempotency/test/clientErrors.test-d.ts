import { TRPCClientError } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { idempotentProcedure } from '../src';
import {
  getIdempotencyReason,
  type IdempotencyReason,
  isIdempotencyError,
  isIdempotencyInProgress,
  isIdempotencyKeyInvalid,
  isIdempotencyKeyReused,
  isIdempotencyOutcomeExpired,
  isIdempotencyResponseNotStorable,
} from '../src/client';
import { sqliteIdempotencyStore } from '../src/sqlite';
import type { sqliteTestDatabase } from './helpers/sqliteApp';

declare const db: ReturnType<typeof sqliteTestDatabase>['db'];
const t = initTRPC.create();
const appRouter = t.router({
  pay: idempotentProcedure({
    procedure: t.procedure,
    store: sqliteIdempotencyStore({ db }),
    scope: () => 'user',
  })
    .input(z.object({ amount: z.number() }))
    .mutation(({ input }) => input),
});
type AppRouter = typeof appRouter;

describe('idempotency errors on a typed client', () => {
  it('narrow a TRPCClientError<AppRouter> to typed data.reason and retryAfterMs', () => {
    const err = new TRPCClientError<AppRouter>('x');
    if (isIdempotencyInProgress(err)) {
      expectTypeOf(err.data.reason).toEqualTypeOf<'IDEMPOTENCY_IN_PROGRESS'>();
      expectTypeOf(err.data.retryAfterMs).toEqualTypeOf<number>();
      expectTypeOf(err.data.code).toEqualTypeOf<'CONFLICT'>();
      expectTypeOf(err.data.httpStatus).toEqualTypeOf<number>();
      // Still the router's error: its own fields stay typed.
      expectTypeOf(err.shape).toEqualTypeOf<TRPCClientError<AppRouter>['shape']>();
    }
    if (isIdempotencyKeyReused(err)) {
      expectTypeOf(err.data.code).toEqualTypeOf<'UNPROCESSABLE_CONTENT'>();
      // @ts-expect-error only an in-progress conflict carries a retry hint
      err.data.retryAfterMs;
    }
    if (isIdempotencyKeyInvalid(err)) expectTypeOf(err.data.code).toEqualTypeOf<'BAD_REQUEST'>();
    if (isIdempotencyResponseNotStorable(err)) {
      expectTypeOf(err.data.code).toEqualTypeOf<'INTERNAL_SERVER_ERROR'>();
    }
    if (isIdempotencyOutcomeExpired(err)) {
      expectTypeOf(err.data.code).toEqualTypeOf<'NOT_FOUND'>();
      expectTypeOf(err.data.completedAt).toEqualTypeOf<number>();
      expectTypeOf(err.data.horizonMs).toEqualTypeOf<number | undefined>();
      // @ts-expect-error only an in-progress conflict carries a retry hint
      err.data.retryAfterMs;
    }
    if (isIdempotencyInProgress(err)) {
      // @ts-expect-error only an expired outcome says when it completed
      err.data.completedAt;
    }
  });

  it('narrow an unknown error caught from a call, to switch on its reason', async () => {
    try {
      await Promise.resolve();
    } catch (err) {
      // @ts-expect-error `unknown` until narrowed
      err.data;
      if (isIdempotencyError(err)) {
        expectTypeOf(err.data.reason).toEqualTypeOf<IdempotencyReason>();
        switch (err.data.reason) {
          case 'IDEMPOTENCY_IN_PROGRESS':
            expectTypeOf(err.data.retryAfterMs).toEqualTypeOf<number>();
            break;
          case 'IDEMPOTENCY_KEY_REUSED':
            expectTypeOf(err.data.code).toEqualTypeOf<'UNPROCESSABLE_CONTENT'>();
            break;
        }
      }
      expectTypeOf(getIdempotencyReason(err)).toEqualTypeOf<IdempotencyReason | undefined>();
    }
  });
});
