// Operations.tsx
import { useQueryClient } from '@tanstack/react-query';
import { type ReactNode, useMemo } from 'react';
import { createPendingOperations, PendingOperationsProvider } from 'trpc-idempotency/react-query';
import type { AppRouter } from '../quickstart/router.js';
import { useTRPC } from './trpc.js';

export function Operations({ userId, children }: { userId: string; children: ReactNode }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const pending = useMemo(
    () =>
      createPendingOperations<AppRouter>({
        queryClient,
        namespace: userId, // whose operations: only these are resumed
        // every idempotent mutation (a type error otherwise), as the calls make them
        procedures: { pay: trpc.pay.mutationOptions() },
      }),
    [queryClient, trpc, userId],
  );
  // While mounted: every idempotent mutation of the QueryClient is persisted; on mount, resumed.
  return <PendingOperationsProvider value={pending}>{children}</PendingOperationsProvider>;
}
