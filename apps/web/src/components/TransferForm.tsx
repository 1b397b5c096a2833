import { useState } from 'react';
import { useIdempotentMutation } from 'trpc-idempotency/react-query';
import { useKnownAccounts } from '../knownAccounts';
import { useTRPC } from '../ledger';

export function TransferForm(props: { user: string }) {
  const trpc = useTRPC();
  const transfer = useIdempotentMutation(
    trpc.transfers.create.mutationOptions({
      trpc: { context: { userId: props.user } },
      meta: { userId: props.user },
    }),
  );
  const accounts = useKnownAccounts(props.user);
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [amount, setAmount] = useState('10');

  return (
    <form
      className="card"
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        transfer.mutate({
          fromAccountId: from.trim(),
          toAccountId: to.trim(),
          amount: Number(amount),
        });
      }}
    >
      <h2>Transfer</h2>
      <datalist id="account-ids">
        {accounts.map((id) => (
          <option key={id} value={id} />
        ))}
      </datalist>
      <div className="row">
        <label className="field grow">
          <span>From account</span>
          <input
            data-testid="transfer-from"
            list="account-ids"
            value={from}
            placeholder="acc_…"
            onChange={(event) => setFrom(event.target.value)}
          />
        </label>
        <label className="field grow">
          <span>To account</span>
          <input
            data-testid="transfer-to"
            list="account-ids"
            value={to}
            placeholder="acc_…"
            onChange={(event) => setTo(event.target.value)}
          />
        </label>
        <label className="field">
          <span>Amount</span>
          <input
            data-testid="transfer-amount"
            type="number"
            inputMode="numeric"
            value={amount}
            onChange={(event) => setAmount(event.target.value)}
          />
        </label>
      </div>
      <button type="submit" data-testid="transfer-submit" className="primary">
        Send transfer
      </button>
    </form>
  );
}
