import {
  assertTransferPossible,
  type Ledger,
  newId,
  sqliteSchema,
  toTransfer,
} from '@ledger/server';
import type { Client } from '@libsql/client';
import { eq, sql } from 'drizzle-orm';
import type { LibSQLDatabase } from 'drizzle-orm/libsql';
import type { inferSqliteTransaction } from 'trpc-idempotency/sqlite';

type LibsqlTransaction = inferSqliteTransaction<
  LibSQLDatabase<typeof sqliteSchema> & { $client: Client }
>;

const { accounts, transfers } = sqliteSchema;

/**
 * The example's SQLite transfer on an asynchronous driver (libSQL): the
 * example's ledger (`apps/server/src/sqlite/ledger.ts`) is written for
 * better-sqlite3's synchronous transaction, so this is the query-builder body
 * (`queryBuilderTransfer.ts`) with each statement awaited. Same tables, same
 * five statements, the example's own checks and ids.
 */
export const transferOnAsyncSqlite: Ledger['transfer'] = (execution, request) =>
  execution.commit(async (tx: LibsqlTransaction) => {
    const find = (id: string) =>
      tx
        .select({ id: accounts.id, owner: accounts.owner, balance: accounts.balance })
        .from(accounts)
        .where(eq(accounts.id, id))
        .get();
    assertTransferPossible(request, {
      from: await find(request.fromAccountId),
      to: await find(request.toAccountId),
    });
    const id = newId('tr');
    const now = Date.now();
    await tx
      .update(accounts)
      .set({ balance: sql`${accounts.balance} - ${request.amount}` })
      .where(eq(accounts.id, request.fromAccountId))
      .run();
    await tx
      .update(accounts)
      .set({ balance: sql`${accounts.balance} + ${request.amount}` })
      .where(eq(accounts.id, request.toAccountId))
      .run();
    await tx
      .insert(transfers)
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

/** An account opened on the async SQLite tables, as the example's `openAccount` does. */
export const openAccountOnAsyncSqlite: Ledger['openAccount'] = (execution, request) =>
  execution.commit(async (tx: LibsqlTransaction) => {
    const id = newId('acc');
    await tx
      .insert(accounts)
      .values({
        id,
        owner: request.owner,
        balance: request.initialBalance,
        openingBalance: request.initialBalance,
        openedBy: request.openedBy,
        createdAtMs: Date.now(),
      })
      .run();
    return { id, owner: request.owner, balance: request.initialBalance };
  });
