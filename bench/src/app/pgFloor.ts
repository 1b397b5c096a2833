import type { Account, Transfer } from '@ledger/server';
import type pg from 'pg';
import { type FloorRequest, plannedTransfer } from './floorTransfer';

const LOCK_ACCOUNTS =
  'SELECT id, owner, balance FROM accounts WHERE id IN ($1, $2) ORDER BY id FOR UPDATE';
const MOVE_MONEY =
  'UPDATE accounts SET balance = CASE WHEN id = $1 THEN balance - $3 ELSE balance + $3 END WHERE id IN ($1, $2)';
const INSERT_TRANSFER =
  'INSERT INTO transfers (id, from_account_id, to_account_id, amount, created_by, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6)';

/**
 * The floor: the statements of the example's Postgres transfer
 * (`apps/server/src/pg/ledger.ts`: the lock timeout, both account rows locked
 * in id order, one update moving the money, the transfer row) as raw
 * node-postgres queries, named like the example's, on one connection held
 * for the whole run, between `BEGIN` and `COMMIT`: no ORM, no tRPC, no pool.
 */
export async function createPgFloor(pool: pg.Pool, opts: { lockTimeoutMs: number }) {
  const client = await pool.connect();
  const lockTimeout = String(opts.lockTimeoutMs);
  return {
    async transfer(request: FloorRequest): Promise<Transfer> {
      await client.query('BEGIN');
      try {
        await client.query("SELECT set_config('lock_timeout', $1, true)", [lockTimeout]);
        const locked = await client.query<Account>({
          name: 'floor_lock_accounts',
          text: LOCK_ACCOUNTS,
          values: [request.fromAccountId, request.toAccountId],
        });
        const accounts = locked.rows.map((row) => ({ ...row, balance: Number(row.balance) }));
        const { values, answer } = plannedTransfer(request, {
          from: accounts.find((account) => account.id === request.fromAccountId),
          to: accounts.find((account) => account.id === request.toAccountId),
        });
        await client.query({
          name: 'floor_move_money',
          text: MOVE_MONEY,
          values: [request.fromAccountId, request.toAccountId, request.amount],
        });
        await client.query({ name: 'floor_insert_transfer', text: INSERT_TRANSFER, values });
        await client.query('COMMIT');
        return answer;
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    },
    release: () => client.release(),
  };
}
