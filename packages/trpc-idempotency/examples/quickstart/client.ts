// client.ts
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import superjson from 'superjson';
import { idempotencyLink } from 'trpc-idempotency/client';
import type { AppRouter } from './router.js';

const client = createTRPCClient<AppRouter>({
  links: [
    // adds an idempotencyKey to calls of the idempotent procedures, retries with the same key
    idempotencyLink({ procedures: { pay: true } }),
    httpBatchLink({
      url: process.env.API_URL ?? 'http://localhost:3000/trpc', // absolute outside a browser
      transformer: superjson, // the same transformer as the server's
      headers: { 'x-user-id': 'alice' },
    }),
  ],
});

const paid = await client.pay.mutate({ invoiceId: 'inv_1', amount: 500 }); // no key to pass
console.log(paid.paymentId, paid.paidAt instanceof Date); // 1 true

// A key you keep (e.g. with a pending order) makes a repeated call a replay:
const idempotencyKey = crypto.randomUUID();
const first = await client.pay.mutate({ invoiceId: 'inv_1', amount: 500, idempotencyKey });
const again = await client.pay.mutate({ invoiceId: 'inv_1', amount: 500, idempotencyKey });
console.log(again.paymentId === first.paymentId, again.paidAt.getTime() === first.paidAt.getTime()); // true true
