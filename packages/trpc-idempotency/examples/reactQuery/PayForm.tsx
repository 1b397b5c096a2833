// PayForm.tsx
import { useState } from 'react';
import { useIdempotentMutation } from 'trpc-idempotency/react-query';
import { useTRPC } from './trpc.js';

export function PayForm({ invoiceId }: { invoiceId: string }) {
  const trpc = useTRPC();
  const pay = useIdempotentMutation(trpc.pay.mutationOptions());
  const [amount, setAmount] = useState(500);
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        pay.mutate({ invoiceId, amount }); // no key: the hook adds it
      }}
    >
      <input type="number" value={amount} onChange={(e) => setAmount(Number(e.target.value))} />
      <button type="submit">Pay</button>
      {pay.isSuccess && <p role="status">Paid: payment {pay.data.paymentId}</p>}
      {pay.isError && <p role="alert">{pay.error.message}</p>}
    </form>
  );
}
