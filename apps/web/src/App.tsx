import { onlineManager, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState, useSyncExternalStore } from 'react';
import { createPendingOperations, PendingOperationsProvider } from 'trpc-idempotency/react-query';
import { AccountList } from './components/AccountList';
import { FlakyNetworkSwitch } from './components/FlakyNetworkSwitch';
import { OpenAccountForm } from './components/OpenAccountForm';
import { OperationList } from './components/OperationList';
import { TransferForm } from './components/TransferForm';
import { TransferList } from './components/TransferList';
import { UserField } from './components/UserField';
import { type AppRouter, asUser, useTRPC } from './ledger';
import { PendingContext } from './pending';

function useOnline() {
  return useSyncExternalStore(
    (listener) => onlineManager.subscribe(listener),
    () => onlineManager.isOnline(),
  );
}

export function App(props: {
  initialUser: string;
  onUserChange: (user: string) => void;
  onFlakyChange: (on: boolean) => void;
}) {
  const [user, setUser] = useState(props.initialUser);
  const [flaky, setFlaky] = useState(false);
  const online = useOnline();
  const trpc = useTRPC();
  const queryClient = useQueryClient();

  // One user's operations are persisted, and resumed (by the provider), as that user's only.
  const pending = useMemo(() => {
    const call = asUser(user);
    return createPendingOperations<AppRouter>({
      queryClient,
      namespace: user,
      procedures: {
        'accounts.open': trpc.accounts.open.mutationOptions(call),
        'transfers.create': trpc.transfers.create.mutationOptions(call),
        'payouts.create': trpc.payouts.create.mutationOptions(call),
      },
    });
  }, [user, trpc, queryClient]);

  return (
    <PendingOperationsProvider value={pending}>
      <PendingContext.Provider value={pending}>
        <div className="page">
          <header className="topbar">
            <div className="brand">
              <span className="logo" aria-hidden="true" />
              <div>
                <h1>Ledger</h1>
                <p>Every transfer lands exactly once, whatever the network does.</p>
              </div>
            </div>
            <div className="controls">
              <UserField
                user={user}
                onChange={(next) => {
                  setUser(next);
                  props.onUserChange(next);
                }}
              />
              <FlakyNetworkSwitch
                on={flaky}
                onChange={(on) => {
                  setFlaky(on);
                  props.onFlakyChange(on);
                }}
              />
            </div>
          </header>
          {!online && (
            <div className="banner" role="status">
              You are offline. New operations wait here, with their keys, and go out when the
              network is back.
            </div>
          )}
          <main className="grid">
            <section className="column">
              <AccountList user={user} />
              <OpenAccountForm user={user} />
            </section>
            <section className="column">
              <TransferForm user={user} />
              <OperationList />
            </section>
            <TransferList user={user} />
          </main>
        </div>
      </PendingContext.Provider>
    </PendingOperationsProvider>
  );
}
