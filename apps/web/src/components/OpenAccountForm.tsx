import { useState } from 'react';
import { useIdempotentMutation } from 'trpc-idempotency/react-query';
import { useTRPC } from '../ledger';

export function OpenAccountForm(props: { user: string }) {
  const trpc = useTRPC();
  const open = useIdempotentMutation(
    trpc.accounts.open.mutationOptions({
      trpc: { context: { userId: props.user } },
      meta: { userId: props.user },
    }),
  );
  const [owner, setOwner] = useState('');
  const [balance, setBalance] = useState('100');

  return (
    <form
      className="card"
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        open.mutate({ owner: owner.trim(), initialBalance: Number(balance) });
      }}
    >
      <h2>Open an account</h2>
      <div className="row">
        <label className="field grow">
          <span>Owner</span>
          <input
            data-testid="open-owner"
            value={owner}
            placeholder="Ada Lovelace"
            onChange={(event) => setOwner(event.target.value)}
          />
        </label>
        <label className="field">
          <span>Initial balance</span>
          <input
            data-testid="open-balance"
            type="number"
            inputMode="numeric"
            value={balance}
            onChange={(event) => setBalance(event.target.value)}
          />
        </label>
      </div>
      <button type="submit" data-testid="open-submit" className="primary">
        Open account
      </button>
    </form>
  );
}
