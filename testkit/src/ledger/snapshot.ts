import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { parseDatabaseUrl } from 'trpc-idempotency/admin';

/**
 * What a ledger database holds: the example server's tables and its
 * idempotency records, read on a connection of its own. Numbers are numbers
 * whatever the dialect stores (Postgres `bigint` arrives as text).
 */
export interface LedgerSnapshot {
  accounts: Array<{ id: string; owner: string; balance: number; openingBalance: number }>;
  transfers: Array<{ id: string; fromAccountId: string; toAccountId: string; amount: number }>;
  /** Money payouts took out of accounts: `held` while the payout runs, `settled` once recorded. */
  holds: Array<{
    id: string;
    holdKey: string;
    accountId: string;
    amount: number;
    state: 'held' | 'settled';
  }>;
  /** Payouts recorded, one per settled hold. */
  payouts: Array<{
    id: string;
    holdId: string;
    accountId: string;
    amount: number;
    gatewayPayoutId: string;
  }>;
  records: Array<{
    scope: string;
    key: string;
    path: string;
    /** 1, plus one per take-over of an abandoned execution. */
    attempt: number;
    state: 'in_progress' | 'completed';
    outcomeKind: 'result' | 'error' | null;
    response: string | null;
  }>;
}

/** An idempotency record's `scope` and `key` as one string, for maps. */
export const recordId = (row: { scope: string; key: string }) => `${row.scope}\u0000${row.key}`;

type Dialect = 'sqlite' | 'postgres' | 'mysql';

/**
 * One query per part of the snapshot, the same SQL on every dialect (quoted
 * aliases keep their case on Postgres; MySQL reads them as aliases too, and
 * needs its reserved word `key` in backticks), and the columns that hold numbers.
 * Accounts come in the order they were opened: SQLite's rowid, else their
 * creation time.
 */
const PARTS = {
  accounts: {
    sql: (dialect: Dialect) =>
      `SELECT id, owner, balance, opening_balance AS "openingBalance" FROM accounts ORDER BY ${dialect === 'sqlite' ? 'rowid' : 'created_at_ms, id'}`,
    numbers: ['balance', 'openingBalance'],
  },
  transfers: {
    sql: () =>
      'SELECT id, from_account_id AS "fromAccountId", to_account_id AS "toAccountId", amount FROM transfers ORDER BY seq',
    numbers: ['amount'],
  },
  holds: {
    sql: () =>
      'SELECT id, hold_key AS "holdKey", account_id AS "accountId", amount, state FROM payout_holds ORDER BY created_at_ms, id',
    numbers: ['amount'],
  },
  payouts: {
    sql: () =>
      'SELECT id, hold_id AS "holdId", account_id AS "accountId", amount, gateway_payout_id AS "gatewayPayoutId" FROM payouts ORDER BY seq',
    numbers: ['amount'],
  },
  records: {
    sql: (dialect: Dialect) => {
      const key = dialect === 'mysql' ? '`key`' : 'key';
      return `SELECT scope, ${key}, path, attempt, state, outcome_kind AS "outcomeKind", response FROM idempotency_records ORDER BY scope, ${key}`;
    },
    numbers: ['attempt'],
  },
} satisfies Record<keyof LedgerSnapshot, { sql: (dialect: Dialect) => string; numbers: string[] }>;

type Row = Record<string, unknown>;

/** The snapshot from each part's rows, as `rowsOf` returns them for its SQL. */
function snapshotOf(dialect: Dialect, rowsOf: (sql: string) => Row[]): LedgerSnapshot {
  const parts = Object.entries(PARTS).map(([name, part]) => {
    const rows = rowsOf(part.sql(dialect)).map((row) => {
      const copy = { ...row };
      for (const column of part.numbers) copy[column] = Number(copy[column]);
      return copy;
    });
    return [name, rows];
  });
  return Object.fromEntries(parts) as LedgerSnapshot;
}

/**
 * Reads a ledger's SQLite file on its own read-only connection (the server may
 * be running or gone): what was really committed.
 */
export function readLedgerFile(file: string): LedgerSnapshot {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return snapshotOf('sqlite', (sql) => db.prepare(sql).all() as Row[]);
  } finally {
    db.close();
  }
}

/**
 * What the database `databaseUrl` names holds (a SQLite file, a Postgres or
 * a MySQL database, as the library's `parseDatabaseUrl` reads the URL), read
 * on a connection of its own.
 */
export async function readLedger(databaseUrl: string): Promise<LedgerSnapshot> {
  const target = parseDatabaseUrl(databaseUrl);
  if (target.kind === 'sqlite') return readLedgerFile(resolve(target.path));
  if (target.kind === 'mysql') return readMysqlLedger(target.uri);
  if (target.kind !== 'postgres') {
    throw new Error(
      `the example ledger runs on a SQLite file, Postgres or MySQL, not ${target.kind}`,
    );
  }
  const client = new pg.Client({ connectionString: target.connectionString });
  await client.connect();
  try {
    const rows = new Map<string, Row[]>();
    for (const part of Object.values(PARTS)) {
      const sql = part.sql('postgres');
      rows.set(sql, (await client.query<Row>(sql)).rows);
    }
    return snapshotOf('postgres', (sql) => rows.get(sql)!);
  } finally {
    await client.end();
  }
}

async function readMysqlLedger(uri: string): Promise<LedgerSnapshot> {
  const connection = await mysql.createConnection({ uri });
  try {
    const rows = new Map<string, Row[]>();
    for (const part of Object.values(PARTS)) {
      const sql = part.sql('mysql');
      const [result] = await connection.query(sql);
      rows.set(sql, result as Row[]);
    }
    return snapshotOf('mysql', (sql) => rows.get(sql)!);
  } finally {
    await connection.end();
  }
}
