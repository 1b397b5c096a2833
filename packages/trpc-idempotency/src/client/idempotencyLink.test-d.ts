import { createTRPCClient, httpBatchLink, httpLink, type TRPCClientError } from '@trpc/client';
import { describe, expectTypeOf, test } from 'vitest';
import { z } from 'zod';
import { type TestRouter, testProcedures } from '../../test/helpers/testServerResource';
import { t, userIdempotent } from '../../test/helpers/trpc';
import type { IdempotentProcedures, inferIdempotentPaths } from '../shared/idempotentInput';
import type { AnyIdempotencyStore } from '../store/store';
import { idempotencyLink } from './idempotencyLink';

const url = 'http://localhost:3000';

declare const store: AnyIdempotencyStore;
const idempotent = userIdempotent({ store });

/** Idempotent and plain mutations side by side, some nested, some with traps. */
const appRouter = t.router({
  health: t.procedure.query(() => 'ok'),
  accounts: t.router({
    open: idempotent.input(z.object({ owner: z.string() })).mutation(() => ({ id: 'a' })),
    // A plain mutation with a field named like the key is still plain.
    rename: t.procedure
      .input(z.object({ id: z.string(), idempotencyKey: z.string().optional() }))
      .mutation(() => 'renamed'),
    get: t.procedure.input(z.object({ id: z.string() })).query(() => ({ id: 'a' })),
  }),
  transfers: {
    create: idempotent
      .use(({ next }) => next())
      .input(z.object({ amount: z.number() }))
      .mutation(() => ({ id: 't' })),
    note: t.procedure.input(z.strictObject({ text: z.string() })).mutation(() => 'noted'),
  },
  ping: idempotent.mutation(() => 'pong'),
});
type AppRouter = typeof appRouter;

const appProcedures = {
  'accounts.open': true,
  'transfers.create': true,
  ping: true,
} as const;

describe('inferIdempotentPaths', () => {
  test('lists the mutations idempotentProcedure built, nested or not, and nothing else', () => {
    expectTypeOf<inferIdempotentPaths<AppRouter>>().toEqualTypeOf<
      'accounts.open' | 'transfers.create' | 'ping'
    >();
    expectTypeOf<inferIdempotentPaths<TestRouter>>().toEqualTypeOf<'echo' | 'fail'>();
  });

  test('is empty for a router without idempotent mutations', () => {
    const plain = t.router({ save: t.procedure.mutation(() => 1) });
    expectTypeOf<inferIdempotentPaths<typeof plain>>().toBeNever();
    idempotencyLink<typeof plain>({ procedures: {} });
    // @ts-expect-error nothing to list
    idempotencyLink<typeof plain>({ procedures: { save: true } });
  });
});

describe('the set of procedures the link touches', () => {
  test('the exact set type-checks', () => {
    idempotencyLink<AppRouter>({ procedures: appProcedures });
    createTRPCClient<AppRouter>({
      links: [idempotencyLink({ procedures: appProcedures }), httpBatchLink({ url })],
    });
  });

  test('a missing path is a type error', () => {
    idempotencyLink<AppRouter>({
      // @ts-expect-error 'ping' is idempotent on the server but missing here
      procedures: { 'accounts.open': true, 'transfers.create': true },
    });
    createTRPCClient<AppRouter>({
      links: [
        // The router comes from the client's type: the same check without naming it.
        // @ts-expect-error 'ping' is missing
        idempotencyLink({ procedures: { 'accounts.open': true, 'transfers.create': true } }),
        httpBatchLink({ url }),
      ],
    });
  });

  test('a link declared apart from createTRPCClient needs the router type: without it, a type error', () => {
    // @ts-expect-error nothing could check 'orders.plac': the router type is missing
    const unchecked = idempotencyLink({ procedures: { 'orders.plac': true } });
    const checked = idempotencyLink<AppRouter>({ procedures: appProcedures });
    createTRPCClient<AppRouter>({ links: [checked, httpBatchLink({ url })] });
    expectTypeOf(unchecked).not.toBeAny();
  });

  test('an unknown or plain path is a type error', () => {
    idempotencyLink<AppRouter>({
      // @ts-expect-error a plain mutation, though its input has an `idempotencyKey` field
      procedures: { ...appProcedures, 'accounts.rename': true },
    });
    idempotencyLink<AppRouter>({
      procedures: {
        ...appProcedures,
        // @ts-expect-error a query is never idempotent
        'accounts.get': true,
      },
    });
    idempotencyLink<AppRouter>({
      procedures: {
        ...appProcedures,
        // @ts-expect-error no such procedure
        'transfers.delete': true,
      },
    });
  });

  test('values are `true`, and the set is required', () => {
    // @ts-expect-error `false` is not a way to leave one out: the server decides
    idempotencyLink<AppRouter>({ procedures: { ...appProcedures, ping: false } });
    // @ts-expect-error procedures is required
    idempotencyLink<AppRouter>({});
    // @ts-expect-error options are required
    idempotencyLink<AppRouter>();
  });

  test('`satisfies` checks a shared constant the same way', () => {
    const procedures = {
      'accounts.open': true,
      'transfers.create': true,
      ping: true,
    } satisfies IdempotentProcedures<AppRouter>;
    idempotencyLink<AppRouter>({ procedures });
    // @ts-expect-error ping is missing
    ({ 'accounts.open': true, 'transfers.create': true }) satisfies IdempotentProcedures<AppRouter>;
  });
});

test('call sites are unchanged: the key is optional, the brand invisible', () => {
  const client = createTRPCClient<AppRouter>({
    links: [idempotencyLink({ procedures: appProcedures }), httpLink({ url })],
  });
  expectTypeOf(client.accounts.open.mutate).toBeCallableWith({ owner: 'Ann' });
  expectTypeOf(client.accounts.open.mutate).toBeCallableWith({
    owner: 'Ann',
    idempotencyKey: 'k',
  });
  expectTypeOf(client.ping.mutate).toBeCallableWith({});
  expectTypeOf(client.transfers.note.mutate).toBeCallableWith({ text: 'hi' });
  // @ts-expect-error a strict plain input takes no key
  client.transfers.note.mutate({ text: 'hi', idempotencyKey: 'k' });
});

test('fits in front of the HTTP links of a typed client', () => {
  const client = createTRPCClient<TestRouter>({
    links: [idempotencyLink({ procedures: testProcedures }), httpBatchLink({ url })],
  });
  createTRPCClient<TestRouter>({
    links: [idempotencyLink({ procedures: testProcedures, maxAttempts: 3 }), httpLink({ url })],
  });

  // The key stays optional at the call site: the link adds it.
  expectTypeOf(client.echo.mutate).toBeCallableWith({ value: 'v' });
  expectTypeOf(client.echo.mutate).toBeCallableWith({ idempotencyKey: 'k', value: 'v' });
});

test("infers the router for `onRetry` from the client's links", () => {
  createTRPCClient<TestRouter>({
    links: [
      idempotencyLink({
        procedures: testProcedures,
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
  idempotencyLink<TestRouter>({ procedures: testProcedures, maxAttempts: '3' });
  // @ts-expect-error generateKey returns a string
  idempotencyLink<TestRouter>({ procedures: testProcedures, generateKey: () => 42 });
  // @ts-expect-error unknown option
  idempotencyLink<TestRouter>({ procedures: testProcedures, retries: 3 });
  // @ts-expect-error `filter` is gone: the server's procedures decide
  idempotencyLink<TestRouter>({ procedures: testProcedures, filter: () => true });
});
