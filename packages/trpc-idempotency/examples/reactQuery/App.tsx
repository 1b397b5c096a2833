// App.tsx
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { useState } from 'react';
import superjson from 'superjson';
import { idempotencyLink } from 'trpc-idempotency/client';
import type { AppRouter } from '../quickstart/router.js';
import { Operations } from './Operations.js';
import { PayForm } from './PayForm.js';
import { TRPCProvider } from './trpc.js';

export function App({ apiUrl, userId }: { apiUrl: string; userId: string }) {
  const [queryClient] = useState(() => new QueryClient());
  const [trpcClient] = useState(() =>
    createTRPCClient<AppRouter>({
      links: [
        idempotencyLink({ procedures: { pay: true } }),
        httpBatchLink({ url: apiUrl, transformer: superjson, headers: { 'x-user-id': userId } }),
      ],
    }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        <Operations userId={userId}>
          <PayForm invoiceId="inv_1" />
        </Operations>
      </TRPCProvider>
    </QueryClientProvider>
  );
}
