// server.ts
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { idempotencyResponseContext, idempotencyResponseHeaders } from 'trpc-idempotency';
import { appRouter } from './router.js';

export const server = createHTTPServer({
  router: appRouter,
  basePath: '/trpc/',
  createContext: ({ req, info }) => ({
    userId: req.headers['x-user-id']?.toString() ?? null, // stands in for your authentication
    ...idempotencyResponseContext({ req, info }), // replay marks; the Idempotency-Key header
  }),
  responseMeta: (opts) => ({ headers: idempotencyResponseHeaders(opts) }),
}).listen(Number(process.env.PORT ?? 3000));
