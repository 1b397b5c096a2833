import { useState } from 'react';
import { useIdempotentMutation } from 'trpc-idempotency/react-query';
import { asUser, useTRPC } from '../ledger';
import { Field } from './Field';
import { FormCard } from './FormCard';

export function OpenAccountForm(props: { user: string }) {
  const trpc = useTRPC();
  const open = useIdempotentMutation(trpc.accounts.open.mutationOptions(asUser(props.user)));
  const [owner, setOwner] = useState('');
  const [balance, setBalance] = useState('100');

  return (
    <FormCard
      title="Open an account"
      submit={{ label: 'Open account', testId: 'open-submit' }}
      onSubmit={() => open.mutate({ owner: owner.trim(), initialBalance: Number(balance) })}
    >
      <Field
        label="Owner"
        testId="open-owner"
        grow
        value={owner}
        placeholder="Ada Lovelace"
        onChange={setOwner}
      />
      <Field
        label="Initial balance"
        testId="open-balance"
        numeric
        value={balance}
        onChange={setBalance}
      />
    </FormCard>
  );
}
