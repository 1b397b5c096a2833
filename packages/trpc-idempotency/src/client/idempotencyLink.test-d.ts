import { createTRPCClient, httpBatchLink, httpLink, type TRPCClientError } from '@trpc/client';
import { expectTypeOf, test } from 'vitest';
import { idempotencyLink } from './idempotencyLink';
import type { TestRouter } from './testServerResource';

const url = 'http://localhost:3000';

test('fits in front of the HTTP links of a typed client', () => {
  const client = createTRPCClient<TestRouter>({
    links: [idempotencyLink(), httpBatchLink({ url })],
  });
  createTRPCClient<TestRouter>({ links: [idempotencyLink({ maxAttempts: 3 }), httpLink({ url })] });

  // The key stays optional at the call site: the link adds it.
  expectTypeOf(client.echo.mutate).toBeCallableWith({ value: 'v' });
  expectTypeOf(client.echo.mutate).toBeCallableWith({ idempotencyKey: 'k', value: 'v' });
});

test("infers the router for `onRetry` from the client's links", () => {
  createTRPCClient<TestRouter>({
    links: [
      idempotencyLink({
        onRetry(info) {
          // Compared by `data`: expectTypeOf sees any two `TRPCClientError`s as equal.
          expectTypeOf(info.error.data).toEqualTypeOf<TRPCClientError<TestRouter>['data']>();
          expectTypeOf(info.attempt).toBeNumber();
          expectTypeOf(info.delayMs).toBeNumber();
          expectTypeOf(info.idempotencyKey).toBeString();
        },
      }),
      httpBatchLink({ url }),
    ],
  });
});

test('rejects mistyped options', () => {
  // @ts-expect-error maxAttempts is a number
  idempotencyLink({ maxAttempts: '3' });
  // @ts-expect-error generateKey returns a string
  idempotencyLink({ generateKey: () => 42 });
  // @ts-expect-error unknown option
  idempotencyLink({ retries: 3 });
});
