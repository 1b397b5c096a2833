import type { AppRouter } from '@ledger/server';
import type { QueryClient } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink, httpLink, splitLink } from '@trpc/client';
import { createTRPCContext } from '@trpc/tanstack-react-query';
import { type IdempotentProcedures, idempotencyLink } from 'trpc-idempotency/client';
import { createWire } from './wire';

export type { AppRouter };

/**
 * The ledger's idempotent mutations: only these get keys, retries and
 * persistence. Checked against the server's router type; a test checks it
 * against the running router too.
 */
export const ledgerProcedures = {
  'accounts.open': true,
  'transfers.create': true,
  'payouts.create': true,
} as const satisfies IdempotentProcedures<AppRouter>;

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

/** Per call: who the call runs as (sent as `x-user-id`), fixed when the operation is asked for. */
export interface CallContext {
  userId: string;
}

/**
 * A mutation's options that make it run as `userId`: the call's context (its
 * `x-user-id`) and its meta, kept with an operation that is paused and resumed.
 */
export function asUser(userId: string) {
  return { trpc: { context: { userId } satisfies CallContext }, meta: { userId } };
}

/**
 * The tRPC client: mutations one per request (`httpLink`), so the server's
 * `Idempotent-Replayed: true`, which marks a whole response, tells about one
 * operation; queries batched. Idempotent
 * mutations carry their key from `useIdempotentMutation`; the link retries
 * each attempt's network failures with it, and TanStack Query retries on top.
 */
export function createLedgerClient(opts: { queryClient: QueryClient; currentUser: () => string }) {
  const wire = createWire(opts.queryClient);
  const userOf = (context: Record<string, unknown>) =>
    typeof context['userId'] === 'string' ? context['userId'] : opts.currentUser();
  const client = createTRPCClient<AppRouter>({
    links: [
      idempotencyLink<AppRouter>({ procedures: ledgerProcedures, maxAttempts: 3 }),
      splitLink({
        condition: (op) => op.type === 'mutation',
        true: httpLink({
          url: '/trpc',
          fetch: wire.fetch,
          headers: ({ op }) => ({ 'x-user-id': userOf(op.context) }),
        }),
        false: httpBatchLink({
          url: '/trpc',
          fetch: wire.fetch,
          headers: ({ opList }) => ({ 'x-user-id': userOf(opList[0]?.context ?? {}) }),
        }),
      }),
    ],
  });
  return { client, wire };
}
