import { useState } from 'react';
import { useIdempotentMutation } from 'trpc-idempotency/react-query';
import { useKnownAccounts } from '../knownAccounts';
import { asUser, useTRPC } from '../ledger';
import { Field } from './Field';
import { FormCard } from './FormCard';
import { FormStatus } from './FormStatus';

export function TransferForm(props: { user: string }) {
  const trpc = useTRPC();
  const transfer = useIdempotentMutation(trpc.transfers.create.mutationOptions(asUser(props.user)));
  const accounts = useKnownAccounts(props.user);
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [amount, setAmount] = useState('10');
  const account = { grow: true, list: 'account-ids', placeholder: 'acc_…' };

  return (
    <FormCard
      title="Transfer"
      submit={{ label: 'Send transfer', testId: 'transfer-submit' }}
      startNew={{ label: 'New transfer', testId: 'transfer-new', onClick: transfer.newOperation }}
      status={
        <FormStatus operation={transfer.operation} noun="transfer" testId="transfer-status" />
      }
      onSubmit={() =>
        transfer.mutate({
          fromAccountId: from.trim(),
          toAccountId: to.trim(),
          amount: Number(amount),
        })
      }
      extra={
        <datalist id="account-ids">
          {accounts.map((id) => (
            <option key={id} value={id} />
          ))}
        </datalist>
      }
    >
      <Field
        label="From account"
        testId="transfer-from"
        {...account}
        value={from}
        onChange={setFrom}
      />
      <Field label="To account" testId="transfer-to" {...account} value={to} onChange={setTo} />
      <Field label="Amount" testId="transfer-amount" numeric value={amount} onChange={setAmount} />
    </FormCard>
  );
}
