import Database from 'better-sqlite3';
import pg from 'pg';
import { databaseKind, sqlitePath } from '../../src/database';
import { PG_APPLICATION_NAME } from '../../src/pg/database';
import { type LedgerFileSnapshot, readLedgerFile } from './ledgerFile';

/**
 * What a ledger database holds, read on a connection of its own, whatever the
 * dialect `databaseUrl` names: the same snapshot as {@link readLedgerFile}, so
 * `auditLedger` checks either.
 */
export async function readLedger(databaseUrl: string): Promise<LedgerFileSnapshot> {
  if (databaseKind(databaseUrl) === 'sqlite') return readLedgerFile(sqlitePath(databaseUrl));
  return withClient(databaseUrl, async (client) => {
    const accounts = await client.query(
      'SELECT id, owner, balance, opening_balance FROM accounts ORDER BY created_at_ms, id',
    );
    const transfers = await client.query(
      'SELECT id, from_account_id, to_account_id, amount FROM transfers ORDER BY seq',
    );
    const holds = await client.query(
      'SELECT id, hold_key, account_id, amount, state FROM payout_holds ORDER BY created_at_ms, id',
    );
    const payouts = await client.query(
      'SELECT id, hold_id, account_id, amount, gateway_payout_id FROM payouts ORDER BY seq',
    );
    const records = await client.query(
      'SELECT scope, key, path, attempt, state, outcome_kind, response FROM idempotency_records ORDER BY scope, key',
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
      holds: holds.rows.map((row) => ({
        id: row.id,
        holdKey: row.hold_key,
        accountId: row.account_id,
        amount: Number(row.amount),
        state: row.state,
      })),
      payouts: payouts.rows.map((row) => ({
        id: row.id,
        holdId: row.hold_id,
        accountId: row.account_id,
        amount: Number(row.amount),
        gatewayPayoutId: row.gateway_payout_id,
      })),
      records: records.rows.map((row) => ({
        scope: row.scope,
        key: row.key,
        path: row.path,
        attempt: Number(row.attempt),
        state: row.state,
        outcomeKind: row.outcome_kind,
        response: row.response,
      })),
    };
  });
}

/**
 * Holds what a transfer from `accountId` must lock, from another connection,
 * until `release()`: SQLite's write lock (`BEGIN IMMEDIATE`), or the account's
 * row lock in Postgres. A transfer meanwhile fails after its busy or lock
 * timeout, a transient failure.
 */
export async function holdWriteLock(opts: { databaseUrl: string; accountId: string }) {
  if (databaseKind(opts.databaseUrl) === 'sqlite') {
    const locker = new Database(sqlitePath(opts.databaseUrl));
    locker.exec('BEGIN IMMEDIATE');
    return {
      async release() {
        locker.exec('ROLLBACK');
        locker.close();
      },
    };
  }
  const client = new pg.Client({ connectionString: opts.databaseUrl });
  await client.connect();
  await client.query('BEGIN');
  await client.query('SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE', [opts.accountId]);
  return {
    async release() {
      await client.query('ROLLBACK');
      await client.end();
    },
  };
}

/** Postgres: the server processes' sessions open on the database (0 once every pool has ended). */
export function serverSessions(databaseUrl: string): Promise<number> {
  return withClient(databaseUrl, async (client) => {
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND application_name = $1`,
      [PG_APPLICATION_NAME],
    );
    return rows[0]!.n;
  });
}

async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}
