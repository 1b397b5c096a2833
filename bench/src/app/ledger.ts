import { randomUUID } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import type Database from 'better-sqlite3';
import { eq, sql } from 'drizzle-orm';
import type { BenchDatabase } from './database';
import { accounts, transfers } from './schema';

/** What a transfer moves. */
export interface TransferRequest {
  fromAccountId: string;
  toAccountId: string;
  amount: number;
}

/** A transfer as the API answers it (the ledger server's shape). */
export interface Transfer extends TransferRequest {
  id: string;
  createdAt: string;
}

interface AccountRow {
  id: string;
  balance: number;
}

/**
 * The ledger transfer's writes with Drizzle statements prepared once: read
 * both accounts, check the balance, debit, credit, insert the transfer row.
 * It runs inside whatever transaction is open on the connection (plain:
 * `db.transaction`; idempotent: `ctx.idempotency.commit`).
 */
export function createDrizzleLedger(db: BenchDatabase) {
  const p = (name: string) => sql.placeholder(name);
  const findAccount = db
    .select({ id: accounts.id, balance: accounts.balance })
    .from(accounts)
    .where(eq(accounts.id, p('id')))
    .prepare();
  const addToBalance = db
    .update(accounts)
    .set({ balance: sql`${accounts.balance} + ${p('delta')}` })
    .where(eq(accounts.id, p('id')))
    .prepare();
  const insertTransfer = db
    .insert(transfers)
    .values({
      id: p('id'),
      fromAccountId: p('fromAccountId'),
      toAccountId: p('toAccountId'),
      amount: p('amount'),
      createdBy: p('createdBy'),
      createdAtMs: p('now'),
    })
    .prepare();

  return {
    transfer(request: TransferRequest & { createdBy: string }): Transfer {
      const from = mustExist(findAccount.get({ id: request.fromAccountId }), request.fromAccountId);
      mustExist(findAccount.get({ id: request.toAccountId }), request.toAccountId);
      checkFunds(from, request.amount);
      const id = `tr_${randomUUID()}`;
      const now = Date.now();
      addToBalance.run({ id: request.fromAccountId, delta: -request.amount });
      addToBalance.run({ id: request.toAccountId, delta: request.amount });
      insertTransfer.run({ id, ...request, now });
      return { id, ...request, createdAt: new Date(now).toISOString() };
    },
  };
}

/**
 * The floor: the same five statements as raw better-sqlite3 statements in
 * one `BEGIN IMMEDIATE` transaction, no ORM, no tRPC.
 */
export function createRawLedger(client: Database.Database) {
  const findAccount = client.prepare<[string], AccountRow>(
    'SELECT id, balance FROM accounts WHERE id = ?',
  );
  const addToBalance = client.prepare<[number, string]>(
    'UPDATE accounts SET balance = balance + ? WHERE id = ?',
  );
  const insertTransfer = client.prepare<[string, string, string, number, string, number]>(
    'INSERT INTO transfers (id, from_account_id, to_account_id, amount, created_by, created_at_ms) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const transfer = client.transaction((request: TransferRequest & { createdBy: string }) => {
    const from = mustExist(findAccount.get(request.fromAccountId), request.fromAccountId);
    mustExist(findAccount.get(request.toAccountId), request.toAccountId);
    checkFunds(from, request.amount);
    const id = `tr_${randomUUID()}`;
    const now = Date.now();
    addToBalance.run(-request.amount, request.fromAccountId);
    addToBalance.run(request.amount, request.toAccountId);
    insertTransfer.run(
      id,
      request.fromAccountId,
      request.toAccountId,
      request.amount,
      request.createdBy,
      now,
    );
    return { id, ...request, createdAt: new Date(now).toISOString() };
  });
  return {
    transfer: (request: TransferRequest & { createdBy: string }): Transfer =>
      transfer.immediate(request),
  };
}

function mustExist(account: AccountRow | undefined, id: string): AccountRow {
  if (!account) throw new TRPCError({ code: 'NOT_FOUND', message: `account ${id} not found` });
  return account;
}

function checkFunds(from: AccountRow, amount: number) {
  if (from.balance < amount) {
    throw new TRPCError({
      code: 'PRECONDITION_FAILED',
      message: `insufficient funds: account ${from.id} has ${from.balance}, the transfer needs ${amount}`,
    });
  }
}
