import { deepStrictEqual } from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Ledger, LedgerExecution } from '@ledger/server';
import { initTRPC, TRPCError } from '@trpc/server';
import { type AnyIdempotencyStore, idempotentProcedure } from 'trpc-idempotency';
import { z } from 'zod';
import { transferWithQueryBuilder } from './queryBuilderTransfer';

/** The caller, as the ledger server has it: the `x-user-id` header, and the idempotency scope. */
export interface BenchContext {
  userId: string | undefined;
}

/** A transfer body: the example ledger's `transfer`, or a variant with the same signature. */
export type TransferBody = Ledger['transfer'];

const t = initTRPC.context<BenchContext>().create({ isDev: false });

/** Both twins go through the same authentication middleware, as in the ledger server. */
const authed = t.procedure.use(({ ctx, next }) => {
  if (ctx.userId === undefined) {
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'send the x-user-id header' });
  }
  return next({ ctx: { userId: ctx.userId } });
});

const id = z.string().min(1).max(100);
const transferInput = z.object({ fromAccountId: id, toAccountId: id, amount: z.int().min(1) });

/**
 * One transfer body as a pair of twin mutations: `plain` runs it in a
 * transaction of its own (`plainExecution`), `idempotent` hands it
 * `ctx.idempotency`, as the ledger server's `transfers.create` does. Nothing
 * else differs. The server's early `checkTransfer` (a refusal answered before
 * the commit) is left out on both sides: the body is the one transaction.
 */
function twins(opts: {
  body: TransferBody;
  plainExecution: LedgerExecution;
  idempotent: ReturnType<typeof idempotentOn>;
}) {
  const { body, plainExecution } = opts;
  return t.router({
    plain: authed
      .input(transferInput)
      .mutation(({ ctx, input }) => body(plainExecution, { ...input, createdBy: ctx.userId })),
    idempotent: opts.idempotent
      .input(transferInput)
      .mutation(({ ctx, input }) => body(ctx.idempotency, { ...input, createdBy: ctx.userId })),
  });
}

function idempotentOn(store: AnyIdempotencyStore) {
  return idempotentProcedure({ procedure: authed, store, scope: ({ ctx }) => ctx.userId });
}

/** What a bench router needs of the example's database: its store, its ledger, a plain transaction. */
export interface BenchDatabase {
  store: AnyIdempotencyStore;
  plainExecution: LedgerExecution;
  ledger: { transfer: TransferBody };
}

/**
 * The SQLite bench router on the example's SQLite database: two bodies, each
 * as plain and idempotent twins. `prepared` is the example's ledger (Drizzle
 * statements prepared once); `queryBuilder` the same transfer built per call.
 */
export function createSqliteBenchRouter(database: BenchDatabase) {
  const idempotent = idempotentOn(database.store);
  const { plainExecution } = database;
  return t.router({
    prepared: twins({ body: database.ledger.transfer, plainExecution, idempotent }),
    queryBuilder: twins({ body: transferWithQueryBuilder, plainExecution, idempotent }),
  });
}

/** The Postgres bench router: the example's Postgres ledger as plain and idempotent twins. */
export function createPgBenchRouter(database: BenchDatabase) {
  return t.router({
    ledger: twins({
      body: database.ledger.transfer,
      plainExecution: database.plainExecution,
      idempotent: idempotentOn(database.store),
    }),
  });
}

export type SqliteBenchRouter = ReturnType<typeof createSqliteBenchRouter>;
export type PgBenchRouter = ReturnType<typeof createPgBenchRouter>;

/** A server-side caller of the SQLite bench router for one user. */
export function createSqliteBenchCaller(router: SqliteBenchRouter, userId: string) {
  return t.createCallerFactory(router)({ userId });
}

/** A server-side caller of the Postgres bench router for one user. */
export function createPgBenchCaller(router: PgBenchRouter, userId: string) {
  return t.createCallerFactory(router)({ userId });
}

/**
 * A key completed by a first execution of `idempotent`, checked: its replay
 * answers exactly what the first execution answered. The replay contenders repeat it.
 */
export async function completedKey(
  idempotent: (idempotencyKey: string) => Promise<unknown>,
): Promise<string> {
  const key = randomUUID();
  const first = await idempotent(key);
  deepStrictEqual(
    await idempotent(key),
    first,
    'a replay answers exactly what the first execution answered',
  );
  return key;
}
