// server.ts: a REST front-end (OpenAPI) of idempotent procedures, with trpc-to-openapi on Express
import { initTRPC, TRPCError } from '@trpc/server';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import express from 'express';
import {
  idempotencyResponseContext,
  idempotencyResponseHeaders,
  idempotentProcedure,
} from 'trpc-idempotency';
import { migrateSqliteIdempotencyStore, sqliteIdempotencyStore } from 'trpc-idempotency/sqlite';
import {
  createOpenApiExpressMiddleware,
  generateOpenApiDocument,
  type OpenApiMeta,
} from 'trpc-to-openapi';
import { z } from 'zod';

const db = drizzle(new Database(process.env.DATABASE_FILE ?? 'app.db'));
migrateSqliteIdempotencyStore(db);

const t = initTRPC.context<{ userId: string | null }>().meta<OpenApiMeta>().create();
const authed = t.procedure.use(({ ctx, next }) => {
  if (!ctx.userId) throw new TRPCError({ code: 'UNAUTHORIZED' });
  return next({ ctx: { userId: ctx.userId } });
});
const idempotent = idempotentProcedure({
  procedure: authed,
  store: sqliteIdempotencyStore({ db }),
  scope: ({ ctx }) => ctx.userId,
});

// The two headers, as the generated document shows them.
const idempotencyHeaders = {
  requestHeaders: z.object({
    'Idempotency-Key': z
      .string()
      .optional()
      .describe('A unique key per operation (16–255 of A-Z a-z 0-9 . _ : -); retries resend it'),
  }),
  responseHeaders: z.object({
    'Idempotent-Replayed': z
      .literal('true')
      .optional()
      .describe('Set when the response is the stored one of an earlier request with the key'),
  }),
};

let refunds = 0;
export const restRouter = t.router({
  createRefund: idempotent
    .meta({ openapi: { method: 'POST', path: '/refunds', ...idempotencyHeaders } })
    .input(z.object({ paymentId: z.string(), amount: z.number().int().positive() }))
    .output(z.object({ refundId: z.string(), amount: z.number() }))
    .mutation(({ ctx, input }) =>
      // Your writes go in commit(), as in the Quickstart; this example keeps none.
      ctx.idempotency.commit(() => ({ refundId: `re_${++refunds}`, amount: input.amount })),
    ),
});

export const openApiDocument = generateOpenApiDocument(restRouter, {
  title: 'Refunds',
  version: '1.0.0',
  baseUrl: 'http://localhost:3000/api',
});

const app = express();
app.use(
  '/api',
  createOpenApiExpressMiddleware({
    router: restRouter,
    createContext: ({ req, info }) => ({
      userId: req.header('x-user-id') ?? null, // stands in for your authentication
      ...idempotencyResponseContext({ req, info }), // Idempotency-Key in, Idempotent-Replayed out
    }),
    responseMeta: (opts) => ({ headers: idempotencyResponseHeaders(opts) }),
  }),
);
export const server = app.listen(Number(process.env.PORT ?? 3000));
