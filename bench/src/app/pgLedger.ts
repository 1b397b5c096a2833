import { randomUUID } from 'node:crypto';
import { initTRPC, TRPCError } from '@trpc/server';
import { eq, sql } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { bigint, pgTable, text } from 'drizzle-orm/pg-core';
import { idempotentProcedure } from 'trpc-idempotency';
import { migratePgIdempotencyStore, pgIdempotencyStore } from 'trpc-idempotency/pg';
import { PAYEE, PAYER } from './database';
import type { Transfer, TransferRequest } from './ledger';
import { type BenchContext, transferInput } from './router';

const accounts = pgTable('accounts', {
  id: text('id').primaryKey(),
  owner: text('owner').notNull(),
  balance: bigint('balance', { mode: 'number' }).notNull(),
});

const transfers = pgTable('transfers', {
  seq: bigint('seq', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
  id: text('id').notNull().unique(),
  fromAccountId: text('from_account_id').notNull(),
  toAccountId: text('to_account_id').notNull(),
  amount: bigint('amount', { mode: 'number' }).notNull(),
  createdBy: text('created_by').notNull(),
  createdAtMs: bigint('created_at_ms', { mode: 'number' }).notNull(),
});

const LEDGER_DDL = `
CREATE TABLE accounts (
  id text PRIMARY KEY,
  owner text NOT NULL,
  balance bigint NOT NULL CHECK (balance >= 0)
);
CREATE TABLE transfers (
  seq bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
  id text NOT NULL UNIQUE,
  from_account_id text NOT NULL REFERENCES accounts(id),
  to_account_id text NOT NULL REFERENCES accounts(id),
  amount bigint NOT NULL CHECK (amount > 0),
  created_by text NOT NULL,
  created_at_ms bigint NOT NULL
);
CREATE INDEX transfers_from_account_idx ON transfers (from_account_id, seq);
CREATE INDEX transfers_to_account_idx ON transfers (to_account_id, seq);
`;

type PgStoreDatabase = Parameters<typeof pgIdempotencyStore>[0]['db'];
// biome-ignore lint/suspicious/noExplicitAny: a database or a transaction, any schema
type Queryable = Pick<NodePgDatabase<any>, 'select' | 'update' | 'insert'>;

/** A fresh database on `serverUrl` with the ledger tables, the records table and two accounts. */
export async function openPgBenchDatabase(serverUrl: string) {
  const name = `bench_${randomBytes()}`;
  const admin = drizzle({ connection: { connectionString: serverUrl, max: 1 } });
  await admin.execute(sql.raw(`CREATE DATABASE "${name}"`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const db = drizzle({ connection: { connectionString: url.toString(), max: 4 } });
  await db.execute(sql.raw(LEDGER_DDL));
  await migratePgIdempotencyStore(db);
  await db.insert(accounts).values([
    { id: PAYER, owner: 'payer', balance: 1_000_000_000_000 },
    { id: PAYEE, owner: 'payee', balance: 0 },
  ]);
  return {
    db,
    store: pgIdempotencyStore({ db: db as PgStoreDatabase }),
    async count() {
      const result = await db.execute<{ transfers: number; records: number }>(
        sql`SELECT (SELECT count(*)::int FROM transfers) AS transfers, (SELECT count(*)::int FROM idempotency_records WHERE state = 'completed') AS records`,
      );
      const row = result.rows[0];
      if (!row) throw new Error('no counts');
      return row;
    },
    async [Symbol.asyncDispose]() {
      await db.$client.end();
      await admin.execute(sql.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
      await admin.$client.end();
    },
  };
}

export type PgBenchDatabase = Awaited<ReturnType<typeof openPgBenchDatabase>>;

function randomBytes() {
  return randomUUID().replaceAll('-', '').slice(0, 12);
}

/**
 * The transfer's five statements on a database or transaction handle, as
 * named (server-side prepared) statements: Postgres parses each once per
 * connection. Drizzle builds the query objects per call on the handle it gets.
 */
export async function pgTransfer(
  tx: Queryable,
  request: TransferRequest & { createdBy: string },
): Promise<Transfer> {
  const p = (name: string) => sql.placeholder(name);
  const find = tx
    .select({ id: accounts.id, balance: accounts.balance })
    .from(accounts)
    .where(eq(accounts.id, p('id')))
    .prepare('bench_find_account');
  const [from] = await find.execute({ id: request.fromAccountId });
  const [to] = await find.execute({ id: request.toAccountId });
  if (!from || !to) throw new TRPCError({ code: 'NOT_FOUND', message: 'account not found' });
  if (from.balance < request.amount) {
    throw new TRPCError({ code: 'PRECONDITION_FAILED', message: 'insufficient funds' });
  }
  const add = tx
    .update(accounts)
    .set({ balance: sql`${accounts.balance} + ${p('delta')}` })
    .where(eq(accounts.id, p('id')))
    .prepare('bench_add_to_balance');
  await add.execute({ id: request.fromAccountId, delta: -request.amount });
  await add.execute({ id: request.toAccountId, delta: request.amount });
  const id = `tr_${randomUUID()}`;
  const now = Date.now();
  await tx
    .insert(transfers)
    .values({
      id: p('id'),
      fromAccountId: p('fromAccountId'),
      toAccountId: p('toAccountId'),
      amount: p('amount'),
      createdBy: p('createdBy'),
      createdAtMs: p('now'),
    })
    .prepare('bench_insert_transfer')
    .execute({ id, ...request, now });
  return { id, ...request, createdAt: new Date(now).toISOString() };
}

const t = initTRPC.context<BenchContext>().create({ isDev: false });
const authed = t.procedure.use(({ ctx, next }) => {
  if (ctx.userId === undefined) {
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'send the x-user-id header' });
  }
  return next({ ctx: { userId: ctx.userId } });
});

/** The bench router of `router.ts`, on Postgres: the transfer plain and idempotent. */
export function createPgBenchRouter(database: PgBenchDatabase) {
  const { db, store } = database;
  const idempotent = idempotentProcedure({
    procedure: authed,
    store,
    scope: ({ ctx }) => ctx.userId,
  });
  return t.router({
    plain: t.router({
      transfer: authed
        .input(transferInput)
        .mutation(({ ctx, input }) =>
          db.transaction((tx) => pgTransfer(tx, { ...input, createdBy: ctx.userId })),
        ),
    }),
    idempotent: t.router({
      transfer: idempotent
        .input(transferInput)
        .mutation(({ ctx, input }) =>
          ctx.idempotency.commit((tx) => pgTransfer(tx, { ...input, createdBy: ctx.userId })),
        ),
    }),
  });
}

export function createPgBenchCaller(
  router: ReturnType<typeof createPgBenchRouter>,
  userId: string,
) {
  return t.createCallerFactory(router)({ userId });
}
