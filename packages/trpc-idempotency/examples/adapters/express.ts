// server.ts: Express
import { createExpressMiddleware } from '@trpc/server/adapters/express';
import express from 'express';
import { idempotencyResponseContext, idempotencyResponseHeaders } from 'trpc-idempotency';
import { appRouter } from '../quickstart/router.js';

const app = express();
app.use(
  '/trpc',
  createExpressMiddleware({
    router: appRouter,
    createContext: ({ req, info }) => ({
      userId: req.header('x-user-id') ?? null,
      ...idempotencyResponseContext({ req, info }),
    }),
    responseMeta: (opts) => ({ headers: idempotencyResponseHeaders(opts) }),
  }),
);
export const server = app.listen(Number(process.env.PORT ?? 3000));
