import { useQuery } from '@tanstack/react-query';
import { useKnownAccounts } from '../knownAccounts';
import { useTRPC } from '../ledger';
import { formatAmount } from './format';

function AccountCard(props: { id: string }) {
  const trpc = useTRPC();
  const account = useQuery(trpc.accounts.get.queryOptions({ id: props.id }));
  const balance = account.data?.balance;
  return (
    <li
      className="account"
      data-testid="account"
      data-account-id={props.id}
      {...(balance !== undefined && { 'data-balance': String(balance) })}
    >
      <div>
        <div className="owner">
          {account.data?.owner ?? (account.isError ? 'Unavailable' : '…')}
        </div>
        <code className="muted">{props.id}</code>
      </div>
      <div className="balance">{balance === undefined ? '—' : formatAmount(balance)}</div>
    </li>
  );
}

export function AccountList(props: { user: string }) {
  const accounts = useKnownAccounts(props.user);
  return (
    <section className="card">
      <h2>Accounts</h2>
      {accounts.length === 0 ? (
        <p className="empty">No accounts yet: open one below.</p>
      ) : (
        <ul className="accounts">
          {accounts.map((id) => (
            <AccountCard key={id} id={id} />
          ))}
        </ul>
      )}
    </section>
  );
}
