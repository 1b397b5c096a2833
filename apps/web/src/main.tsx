import { MutationCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { rememberAccount } from './knownAccounts';
import { createLedgerClient, TRPCProvider } from './ledger';
import { operationOf } from './operations';
import { loadUser, saveUser } from './user';
import './styles.css';

let user = loadUser();

const queryClient: QueryClient = new QueryClient({
  defaultOptions: {
    queries: { staleTime: 2_000, retry: 1 },
    // The operation list shows every operation of the session.
    mutations: { gcTime: Number.POSITIVE_INFINITY },
  },
  // Cache-wide, so operations resumed after a reload update the page too.
  mutationCache: new MutationCache({
    onSuccess(data, _variables, _onMutateResult, mutation) {
      const operation = operationOf(mutation);
      if (!operation) return;
      if (operation.kind === 'open') rememberAccount(operation.userId, (data as { id: string }).id);
      else {
        rememberAccount(operation.userId, operation.input.fromAccountId);
        rememberAccount(operation.userId, operation.input.toAccountId);
      }
    },
    onSettled() {
      return queryClient.invalidateQueries({ predicate: (query) => query.queryKey[0] !== 'wire' });
    },
  }),
});

const { client, wire } = createLedgerClient({ queryClient, currentUser: () => user });

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={client} queryClient={queryClient}>
        <App
          initialUser={user}
          onUserChange={(next) => {
            user = next;
            saveUser(next);
          }}
          onFlakyChange={wire.setFlaky}
        />
      </TRPCProvider>
    </QueryClientProvider>
  </StrictMode>,
);
