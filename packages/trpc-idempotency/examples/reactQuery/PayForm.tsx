// PayForm.tsx
import { useState } from 'react';
import { useIdempotentMutation } from 'trpc-idempotency/react-query';
import { useTRPC } from './trpc.js';

export function PayForm({ invoiceId }: { invoiceId: string }) {
  const trpc = useTRPC();
  const pay = useIdempotentMutation(trpc.pay.mutationOptions());
  const [amount, setAmount] = useState(500);
  const { operation } = pay; // this form's operation, or the one a reload resumed
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        pay.mutate({ invoiceId, amount }); // no key: the hook keeps one per intended payment
      }}
    >
      <input type="number" value={amount} onChange={(e) => setAmount(Number(e.target.value))} />
      <button type="submit">Pay</button>
      <button type="button" onClick={pay.newOperation}>
        New payment
      </button>
      {operation?.state === 'succeeded' && (
        <p role="status">
          {operation.alreadyDone ? 'Already paid' : 'Paid'}
          {operation.data && `: payment ${operation.data.paymentId}`}
        </p>
      )}
      {(operation?.state === 'pending' || operation?.state === 'waiting') && (
        <p role="status">
          {operation.state === 'waiting' ? 'Waiting for the network' : 'Paying'} (key{' '}
          {operation.key})
        </p>
      )}
      {operation?.state === 'failed' && <p role="alert">{operation.error?.message}</p>}
      {operation?.state === 'unknown' && <p role="alert">Not sent again: check your payments</p>}
    </form>
  );
}
