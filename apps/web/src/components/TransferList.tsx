import { useQueries } from '@tanstack/react-query';
import { useKnownAccounts } from '../knownAccounts';
import { useTRPC } from '../ledger';
import { formatAmount, formatTime } from './format';

/** Transfers touching any account known here, newest first. */
export function TransferList(props: { user: string }) {
  const trpc = useTRPC();
  const accounts = useKnownAccounts(props.user);
  const lists = useQueries({
    queries: accounts.map((accountId) => trpc.transfers.list.queryOptions({ accountId })),
  });
  const byId = new Map(lists.flatMap((list) => list.data ?? []).map((t) => [t.id, t]));
  const transfers = [...byId.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));

  return (
    <section className="card wide">
      <h2>Transfers</h2>
      {transfers.length === 0 ? (
        <p className="empty">No transfers yet.</p>
      ) : (
        <table className="transfers">
          <thead>
            <tr>
              <th>Time</th>
              <th>Transfer</th>
              <th>From</th>
              <th>To</th>
              <th className="amount">Amount</th>
            </tr>
          </thead>
          <tbody>
            {transfers.map((transfer) => (
              <tr key={transfer.id} data-testid="transfer" data-transfer-id={transfer.id}>
                <td>{formatTime(transfer.createdAt)}</td>
                <td>
                  <code>{transfer.id}</code>
                </td>
                <td>
                  <code>{transfer.fromAccountId}</code>
                </td>
                <td>
                  <code>{transfer.toAccountId}</code>
                </td>
                <td className="amount">{formatAmount(transfer.amount)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
