import { useState } from 'react';
import { useIdempotentMutation } from 'trpc-idempotency/react-query';
import { asUser, useTRPC } from '../ledger';
import { Field } from './Field';
import { FormCard } from './FormCard';
import { FormStatus } from './FormStatus';

export function OpenAccountForm(props: { user: string }) {
  const trpc = useTRPC();
  const open = useIdempotentMutation(trpc.accounts.open.mutationOptions(asUser(props.user)));
  const [owner, setOwner] = useState('');
  const [balance, setBalance] = useState('100');

  return (
    <FormCard
      title="Open an account"
      submit={{ label: 'Open account', testId: 'open-submit' }}
      startNew={{ label: 'New account', testId: 'open-new', onClick: open.newOperation }}
      status={<FormStatus operation={open.operation} noun="account" testId="open-status" />}
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
