// app.ts: Hono with tRPC's fetch adapter (serve it on Node.js with @hono/node-server)
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { Hono } from 'hono';
import { idempotencyResponseContext, idempotencyResponseHeaders } from 'trpc-idempotency';
import { appRouter } from '../quickstart/router.js';

export const app = new Hono();

app.all('/trpc/*', (c) =>
  fetchRequestHandler({
    endpoint: '/trpc',
    req: c.req.raw,
    router: appRouter,
    createContext: (opts) => ({
      userId: c.req.header('x-user-id') ?? null,
      ...idempotencyResponseContext(opts),
    }),
    responseMeta: (opts) => ({ headers: idempotencyResponseHeaders(opts) }),
  }),
);
