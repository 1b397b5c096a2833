import pg from 'pg';
import type { LedgerState } from './ledgerCheck';

/**
 * What a ledger's Postgres database holds, read on a connection of its own.
 */
export async function readPgLedger(url: string): Promise<LedgerState> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const accounts = await client.query(
      'SELECT id, owner, balance, opening_balance FROM accounts ORDER BY created_at_ms, id',
    );
    const transfers = await client.query(
      'SELECT id, from_account_id, to_account_id, amount FROM transfers ORDER BY seq',
    );
    const records = await client.query(
      'SELECT scope, key, path, state, attempt, outcome_kind, response FROM idempotency_records ORDER BY scope, key',
    );
    return {
      accounts: accounts.rows.map((row) => ({
        id: row.id,
        owner: row.owner,
        balance: Number(row.balance),
        openingBalance: Number(row.opening_balance),
      })),
      transfers: transfers.rows.map((row) => ({
        id: row.id,
        fromAccountId: row.from_account_id,
        toAccountId: row.to_account_id,
        amount: Number(row.amount),
      })),
      records: records.rows.map((row) => ({
        scope: row.scope,
        key: row.key,
        path: row.path,
        state: row.state,
        attempt: Number(row.attempt),
        outcomeKind: row.outcome_kind,
        response: row.response,
      })),
    };
  } finally {
    await client.end();
  }
}

/**
 * How many transactions other sessions have open on the database `url` points
 * at: on Postgres a transfer in flight is an open transaction (its claim is
 * not visible to anyone else before the commit), so this is what a kill at
 * this moment would cut short.
 */
export async function openTransactions(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ open: number }>(
      `SELECT count(*)::int AS open FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL`,
    );
    return rows[0]!.open;
  } finally {
    await client.end();
  }
}
