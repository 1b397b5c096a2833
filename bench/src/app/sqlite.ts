import {
  type LedgerExecution,
  type OpenSqliteDatabase,
  openDatabase,
  type TransferRequest,
} from '@ledger/server';
import { tempSqliteFile } from '@ledger/testkit';
import { getTableName } from 'drizzle-orm';
import { idempotencyRecords } from 'trpc-idempotency/sqlite';
import { openBenchAccounts } from './benchRequest';

/** The idempotency table's name, from the library's exported schema. */
export const RECORDS_TABLE = getTableName(idempotencyRecords);

/** The example's SQLite database in a temp file; disposing it closes and deletes it. */
export interface BenchSqlite extends AsyncDisposable {
  file: string;
  db: OpenSqliteDatabase['db'];
  store: OpenSqliteDatabase['store'];
  /** The example's SQLite ledger (`apps/server/src/sqlite/ledger.ts`). */
  ledger: OpenSqliteDatabase['ledger'];
  /** A plain `BEGIN IMMEDIATE` transaction in place of `ctx.idempotency`. */
  plainExecution: LedgerExecution;
  /** 1 cent from an account holding plenty to another: every call of every contender. */
  request: TransferRequest;
  /** Rows in the ledger's transfers table and the idempotency table. */
  count(): { transfers: number; records: number };
}

/**
 * A fresh SQLite file opened as the ledger server opens its own
 * (`openDatabase` of `@ledger/server`: its migrations, the idempotency
 * table's, WAL, the store, the ledger), with two accounts opened through the
 * example's ledger.
 */
export async function openBenchSqlite(label: string): Promise<BenchSqlite> {
  const temp = tempSqliteFile(`trpc-idempotency-bench-${label}`);
  const { file } = temp;
  const database = await openDatabase(temp.url);
  if (database.kind !== 'sqlite') throw new Error('expected a SQLite database');
  const { db, store, ledger } = database;
  const plainExecution = plainSqliteExecution(db);
  const close = async () => {
    await database.close();
    temp[Symbol.dispose]();
  };
  const request = await openBenchAccounts({ ledger, plainExecution, close });
  const counts = db.$client.prepare<[], { transfers: number; records: number }>(
    `SELECT (SELECT count(*) FROM transfers) AS transfers,
            (SELECT count(*) FROM ${RECORDS_TABLE}) AS records`,
  );
  return {
    file,
    db,
    store,
    ledger,
    plainExecution,
    request,
    count: () => {
      const row = counts.get();
      if (!row) throw new Error('no counts');
      return row;
    },
    [Symbol.asyncDispose]: close,
  };
}

/**
 * What plain tRPC does where the idempotent handler calls
 * `ctx.idempotency.commit`: the same callback in a `BEGIN IMMEDIATE`
 * transaction of its own (Drizzle's `db.transaction`), so the example's ledger
 * runs unchanged on both sides.
 */
export function plainSqliteExecution(db: OpenSqliteDatabase['db']): LedgerExecution {
  return {
    commit: async <R>(write: (tx: unknown) => R): Promise<Awaited<R>> =>
      db.transaction(write, { behavior: 'immediate' }) as Awaited<R>,
  };
}
