import { QueryClient, useMutation } from '@tanstack/react-query';
import { createTRPCClient, httpLink } from '@trpc/client';
import { createTRPCOptionsProxy } from '@trpc/tanstack-react-query';
import { expectTypeOf, test } from 'vitest';
import { z } from 'zod';
import { t, userIdempotent } from '../../test/helpers/trpc';
import type { AnyIdempotencyStore } from '../store/store';
import { idempotentMutationOptions } from './idempotentMutationOptions';
import type { OperationState } from './operationState';
import { createPendingOperations } from './pendingOperations';
import { useIdempotentMutation } from './useIdempotentMutation';

declare const store: AnyIdempotencyStore;
const idempotent = userIdempotent({ store });
const router = t.router({
  transfers: t.router({
    create: idempotent
      .input(z.object({ amount: z.number() }))
      .mutation(() => ({ id: 't', amount: 1 })),
  }),
  accounts: t.router({
    open: idempotent.input(z.object({ owner: z.string() })).mutation(() => 'a'),
  }),
  note: t.procedure.input(z.strictObject({ text: z.string() })).mutation(() => 'noted'),
});
type AppRouter = typeof router;

const queryClient = new QueryClient();
const trpc = createTRPCOptionsProxy<AppRouter>({
  client: createTRPCClient<AppRouter>({ links: [httpLink({ url: 'http://x' })] }),
  queryClient,
});

test('useIdempotentMutation: typed like useMutation, the key optional', () => {
  const transfer = useIdempotentMutation(trpc.transfers.create.mutationOptions());
  expectTypeOf(transfer.mutate).toBeCallableWith({ amount: 5 });
  expectTypeOf(transfer.mutate).toBeCallableWith({ amount: 5, idempotencyKey: 'k' });
  expectTypeOf(transfer.mutateAsync({ amount: 5 })).resolves.toEqualTypeOf<{
    id: string;
    amount: number;
  }>();
  expectTypeOf(transfer.data).toEqualTypeOf<{ id: string; amount: number } | undefined>();
  // Its status narrows its fields, as useMutation's does.
  if (transfer.isSuccess)
    expectTypeOf(transfer.data).toEqualTypeOf<{ id: string; amount: number }>();
  if (transfer.isError) expectTypeOf(transfer.error.message).toBeString();
  // @ts-expect-error amount is a number
  transfer.mutate({ amount: '5' });
});

test('useIdempotentMutation: the operation, told honestly and typed', () => {
  const transfer = useIdempotentMutation(trpc.transfers.create.mutationOptions());
  const { operation } = transfer;
  expectTypeOf(operation?.state).toEqualTypeOf<OperationState | undefined>();
  expectTypeOf<OperationState>().toEqualTypeOf<
    'pending' | 'waiting' | 'succeeded' | 'failed' | 'unknown'
  >();
  expectTypeOf(operation?.data).toEqualTypeOf<{ id: string; amount: number } | undefined>();
  expectTypeOf(operation?.alreadyDone).toEqualTypeOf<boolean | undefined>();
  if (operation?.error) expectTypeOf(operation.error.message).toBeString();
  expectTypeOf(transfer.newOperation).toEqualTypeOf<() => void>();
  expectTypeOf(transfer.discard).toEqualTypeOf<() => Promise<void>>();
});

test('idempotentMutationOptions: the key is required at mutate(), since nothing adds it', () => {
  const transfer = useMutation(idempotentMutationOptions(trpc.transfers.create.mutationOptions()));
  expectTypeOf(transfer.mutate).toBeCallableWith({ amount: 5, idempotencyKey: 'k' });
  // @ts-expect-error without a key: each retry would otherwise reach the link as a new call
  transfer.mutate({ amount: 5 });
  expectTypeOf(transfer.mutateAsync({ amount: 5, idempotencyKey: 'k' })).resolves.toEqualTypeOf<{
    id: string;
    amount: number;
  }>();
});

test('useIdempotentMutation refuses a plain mutation', () => {
  // @ts-expect-error a plain mutation has no key to reuse and must not be retried
  useIdempotentMutation(trpc.note.mutationOptions());
});

test('createPendingOperations needs every idempotent mutation, and only those', () => {
  createPendingOperations<AppRouter>({
    queryClient,
    procedures: {
      'transfers.create': trpc.transfers.create.mutationOptions(),
      'accounts.open': trpc.accounts.open.mutationOptions(),
    },
  });
  createPendingOperations<AppRouter>({
    queryClient,
    // @ts-expect-error accounts.open is missing
    procedures: { 'transfers.create': trpc.transfers.create.mutationOptions() },
  });
  createPendingOperations<AppRouter>({
    queryClient,
    procedures: {
      'transfers.create': trpc.transfers.create.mutationOptions(),
      'accounts.open': trpc.accounts.open.mutationOptions(),
      // @ts-expect-error a plain mutation is never persisted
      note: trpc.note.mutationOptions(),
    },
  });
});
