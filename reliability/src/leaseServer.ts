/**
 * A tiny server in lease mode (SPEC 3.4, 5.4), run as its own process by the
 * lease tests: `charges.create` "charges" an external payment gateway (the
 * test's fake from `@ledger/testkit`, at `GATEWAY_URL`) with a
 * downstream key derived from the idempotency key as its `Idempotency-Key`, so a retry after a crash charges with the same key and the
 * gateway can deduplicate. Records live in the SQLite file `DATABASE_FILE`;
 * several processes may share it.
 *
 * Environment: `DATABASE_FILE` (required), `GATEWAY_URL` (required), `PORT`
 * (default 0), `LEASE_MS` (default 1000), `TTL_MS` (default 24 h), `WAIT_MS`
 * (in-flight wait, default 300), `HOLD_MS` (pause after the gateway answered,
 * before returning; default 0). Logs one JSON line per event on stdout,
 * starting with `listening`.
 */

import type { AddressInfo } from 'node:net';
import { initTRPC, TRPCError } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { idempotencyResponseHeaders, idempotentProcedure } from 'trpc-idempotency';
import { migrateSqliteIdempotencyStore, sqliteIdempotencyStore } from 'trpc-idempotency/sqlite';

const env = process.env;
const log = (msg: string, fields: Record<string, unknown> = {}) =>
  process.stdout.write(
    `${JSON.stringify({ time: new Date().toISOString(), msg, pid: process.pid, ...fields })}\n`,
  );
const number = (name: string, fallback: number) => {
  const value = Number(env[name] ?? fallback);
  if (!Number.isFinite(value)) throw new Error(`${name} must be a number`);
  return value;
};
const required = (name: string) => {
  const value = env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const gatewayUrl = required('GATEWAY_URL');
const holdMs = number('HOLD_MS', 0);
const client = new Database(required('DATABASE_FILE'));
const db = drizzle(client);
migrateSqliteIdempotencyStore(db);
const store = sqliteIdempotencyStore({ db });

const t = initTRPC.context<{ userId: string | undefined }>().create({ isDev: false });
const authed = t.procedure.use(({ ctx, next }) => {
  if (!ctx.userId) throw new TRPCError({ code: 'UNAUTHORIZED' });
  return next({ ctx: { userId: ctx.userId } });
});
const idempotent = idempotentProcedure({
  procedure: authed,
  store,
  scope: ({ ctx }) => ctx.userId,
  mode: 'lease',
  leaseMs: number('LEASE_MS', 1000),
  ttlMs: number('TTL_MS', 24 * 60 * 60 * 1000),
  inFlight: { timeoutMs: number('WAIT_MS', 300), retryAfterMs: 200 },
  onEvent: ({ type, ...fields }) => log(type, fields),
});

const chargeInput = (raw: unknown) => {
  const amount = (raw as { amount?: unknown } | null)?.amount;
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0) {
    throw new TRPCError({ code: 'BAD_REQUEST', message: 'amount must be a positive integer' });
  }
  return { amount };
};

const router = t.router({
  charges: t.router({
    create: idempotent.input(chargeInput).mutation(async ({ ctx, input }) => {
      const response = await fetch(`${gatewayUrl}/charge`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': ctx.idempotency.downstreamKey('gateway'),
          // The gateway records who called: this process.
          'user-agent': `lease-server (pid ${process.pid})`,
        },
        body: JSON.stringify({ amount: input.amount, attempt: ctx.idempotency.attempt }),
      });
      if (!response.ok) {
        throw new TRPCError({
          code: 'BAD_GATEWAY',
          message: `gateway answered ${response.status}`,
        });
      }
      const charge = (await response.json()) as { id: string };
      if (holdMs > 0) await new Promise((resolve) => setTimeout(resolve, holdMs));
      return {
        chargeId: charge.id,
        amount: input.amount,
        attempt: ctx.idempotency.attempt,
        servedBy: process.pid,
      };
    }),
  }),
});

const server = createHTTPServer({
  router,
  basePath: '/trpc/',
  createContext: ({ req }) => ({ userId: req.headers['x-user-id']?.toString() || undefined }),
  responseMeta: ({ errors }) => ({ headers: idempotencyResponseHeaders({ errors }) }),
});
server.listen(number('PORT', 0), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  log('listening', { url: `http://127.0.0.1:${port}/trpc` });
});
const stop = () =>
  server.close(() => {
    client.close();
    process.exit(0);
  });
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
