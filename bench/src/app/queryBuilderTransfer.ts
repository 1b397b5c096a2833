import {
  assertTransferPossible,
  type Ledger,
  newId,
  type OpenSqliteDatabase,
  sqliteSchema,
  toTransfer,
} from '@ledger/server';
import { eq, sql } from 'drizzle-orm';
import type { inferSqliteTransaction } from 'trpc-idempotency/sqlite';

type SqliteTransaction = inferSqliteTransaction<OpenSqliteDatabase['db']>;

const { accounts, transfers } = sqliteSchema;

/**
 * The example's SQLite transfer (`apps/server/src/sqlite/ledger.ts`) written
 * the way most handlers are: Drizzle's query builder on the transaction
 * handle `commit` passes, each statement built and its SQL rendered on every
 * call, instead of statements prepared once. Same tables, same five
 * statements, the example's own checks and ids, so the two bodies differ only
 * in how the statements are issued.
 */
export const transferWithQueryBuilder: Ledger['transfer'] = (execution, request) =>
  execution.commit((tx: SqliteTransaction) => {
    const find = (id: string) =>
      tx
        .select({ id: accounts.id, owner: accounts.owner, balance: accounts.balance })
        .from(accounts)
        .where(eq(accounts.id, id))
        .get();
    assertTransferPossible(request, {
      from: find(request.fromAccountId),
      to: find(request.toAccountId),
    });
    const id = newId('tr');
    const now = Date.now();
    tx.update(accounts)
      .set({ balance: sql`${accounts.balance} - ${request.amount}` })
      .where(eq(accounts.id, request.fromAccountId))
      .run();
    tx.update(accounts)
      .set({ balance: sql`${accounts.balance} + ${request.amount}` })
      .where(eq(accounts.id, request.toAccountId))
      .run();
    tx.insert(transfers)
      .values({
        id,
        fromAccountId: request.fromAccountId,
        toAccountId: request.toAccountId,
        amount: request.amount,
        createdBy: request.createdBy,
        createdAtMs: now,
      })
      .run();
    return toTransfer({ ...request, id, createdAtMs: now });
  });
