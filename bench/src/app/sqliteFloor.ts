import type { Account, Transfer } from '@ledger/server';
import type Database from 'better-sqlite3';
import { type FloorRequest, plannedTransfer } from './floorTransfer';

/**
 * The floor: the five statements of the example's SQLite transfer
 * (`apps/server/src/sqlite/ledger.ts`) as raw better-sqlite3 statements in
 * one `BEGIN IMMEDIATE` transaction, with the example's checks: no ORM, no
 * tRPC. The SQL is written out so the floor stays raw; a column the example
 * adds that the insert misses fails the run (NOT NULL), it cannot pass
 * unnoticed.
 */
export function createSqliteFloor(client: Database.Database) {
  const findAccount = client.prepare<[string], Account>(
    'SELECT id, owner, balance FROM accounts WHERE id = ?',
  );
  const addToBalance = client.prepare<[number, string]>(
    'UPDATE accounts SET balance = balance + ? WHERE id = ?',
  );
  const insertTransfer = client.prepare<[string, string, string, number, string, number]>(
    'INSERT INTO transfers (id, from_account_id, to_account_id, amount, created_by, created_at_ms) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const transfer = client.transaction((request: FloorRequest): Transfer => {
    const { values, answer } = plannedTransfer(request, {
      from: findAccount.get(request.fromAccountId),
      to: findAccount.get(request.toAccountId),
    });
    addToBalance.run(-request.amount, request.fromAccountId);
    addToBalance.run(request.amount, request.toAccountId);
    insertTransfer.run(...values);
    return answer;
  });
  return {
    transfer: (request: FloorRequest) => transfer.immediate(request),
  };
}
