// Where retryLink, idempotencyLink, splitLink and httpBatchStreamLink go
import {
  createTRPCClient,
  httpBatchStreamLink,
  httpLink,
  retryLink,
  splitLink,
} from '@trpc/client';
import superjson from 'superjson';
import { idempotencyLink, retriedByIdempotencyLink } from 'trpc-idempotency/client';
import type { AppRouter } from './quickstart/router.js';

export function createClient(opts: { url: string; userId: string; fetch?: typeof fetch }) {
  const http = { url: opts.url, transformer: superjson, headers: { 'x-user-id': opts.userId } };
  return createTRPCClient<AppRouter>({
    links: [
      // Anywhere before the terminating link; first is where tRPC's docs put it. Its repeats of
      // an idempotent call carry that call's key. A call idempotencyLink already retried is
      // not retried again: one budget.
      retryLink({
        retry: ({ error, attempts }) => !retriedByIdempotencyLink(error) && attempts < 3,
      }),
      idempotencyLink({ procedures: { pay: true } }),
      // Mutations one per request with httpLink: their response headers (Idempotent-Replayed,
      // Idempotency-Should-Retry, Idempotency-Horizon-Ms) leave after the call ran, which a
      // streamed response's cannot. Queries in streamed batches.
      splitLink({
        condition: (op) => op.type === 'mutation',
        true: httpLink({ ...http, ...(opts.fetch && { fetch: opts.fetch }) }),
        false: httpBatchStreamLink(http),
      }),
    ],
  });
}
