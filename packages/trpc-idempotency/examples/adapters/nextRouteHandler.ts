// app/api/trpc/[trpc]/route.ts: a Next.js App Router route handler (Node.js runtime)
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { idempotencyResponseContext, idempotencyResponseHeaders } from 'trpc-idempotency';
import { appRouter } from '../quickstart/router.js';

const handler = (req: Request) =>
  fetchRequestHandler({
    endpoint: '/api/trpc',
    req,
    router: appRouter,
    createContext: (opts) => ({
      userId: req.headers.get('x-user-id'),
      ...idempotencyResponseContext(opts),
    }),
    responseMeta: (opts) => ({ headers: idempotencyResponseHeaders(opts) }),
  });

export { handler as GET, handler as POST };
