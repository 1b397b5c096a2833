import {
  type LedgerExecution,
  type OpenNodePostgresDatabase,
  openDatabase,
  type TransferRequest,
} from '@ledger/server';
import { createTestDatabase } from '@ledger/testkit/databases';
import { getTableName } from 'drizzle-orm';
import type pg from 'pg';
import { idempotencyRecords } from 'trpc-idempotency/pg';
import { openBenchAccounts } from './benchRequest';

const RECORDS_TABLE = getTableName(idempotencyRecords);

/** The example's Postgres database, on a database of its own; disposing it closes and drops it. */
export interface BenchPg extends AsyncDisposable {
  db: OpenNodePostgresDatabase['db'];
  store: OpenNodePostgresDatabase['store'];
  /** The example's Postgres ledger (`apps/server/src/pg/ledger.ts`). */
  ledger: OpenNodePostgresDatabase['ledger'];
  /** A plain transaction (Drizzle's `db.transaction`) in place of `ctx.idempotency`. */
  plainExecution: LedgerExecution;
  request: TransferRequest;
  /** Queries sent to Postgres on the pool's connections: one round trip each. */
  roundTrips: RoundTripCounter;
  /** Rows in the ledger's transfers table and the idempotency table. */
  count(): Promise<{ transfers: number; records: number }>;
}

/**
 * A new database on the server `serverUrl` points at, opened as the ledger
 * server opens its own (`openDatabase` of `@ledger/server`: migrations under
 * an advisory lock, a pool of `poolSize`, the store, the ledger), with two
 * accounts opened through the example's ledger.
 */
export async function openBenchPg(serverUrl: string, opts: { poolSize: number }): Promise<BenchPg> {
  const created = await createTestDatabase(serverUrl);
  let database: OpenNodePostgresDatabase;
  try {
    const opened = await openDatabase(created.url, { poolSize: opts.poolSize });
    // The suite counts round trips on node-postgres's connections.
    if (opened.kind !== 'postgres' || opened.driver !== 'node-postgres') {
      throw new Error('expected a Postgres database on node-postgres');
    }
    database = opened;
  } catch (error) {
    await created[Symbol.asyncDispose]();
    throw error;
  }
  const { db, store, ledger } = database;
  const roundTrips = countRoundTrips(db.$client);
  const plainExecution: LedgerExecution = {
    commit: <R>(write: (tx: unknown) => R): Promise<Awaited<R>> =>
      db.transaction(async (tx): Promise<Awaited<R>> => await write(tx)),
  };
  const close = async () => {
    await database.close();
    await created[Symbol.asyncDispose]();
  };
  const request = await openBenchAccounts({ ledger, plainExecution, close });
  return {
    db,
    store,
    ledger,
    plainExecution,
    request,
    roundTrips,
    async count() {
      const { rows } = await db.$client.query<{ transfers: number; records: number }>(
        `SELECT (SELECT count(*)::int FROM transfers) AS transfers,
                (SELECT count(*)::int FROM ${RECORDS_TABLE}) AS records`,
      );
      const row = rows[0];
      if (!row) throw new Error('no counts');
      return row;
    },
    [Symbol.asyncDispose]: close,
  };
}

/** Queries sent on a pool's connections, as {@link countRoundTrips} counts them. */
export interface RoundTripCounter {
  /** How many so far. */
  count(): number;
  /** The text of every query sent while `run` runs, in order. */
  record(run: () => Promise<unknown>): Promise<string[]>;
}

/**
 * Counts the queries sent on the pool's connections: every connection the
 * pool hands out (`acquire`, for transactions and for `pool.query` alike) has
 * its `query` wrapped once. node-postgres sends each `query` (one statement,
 * or several in one string) and waits for its answer, so the count is the
 * round trips.
 */
export function countRoundTrips(pool: pg.Pool): RoundTripCounter {
  let sent = 0;
  let recording: string[] | undefined;
  const wrapped = new WeakSet<pg.PoolClient>();
  pool.on('acquire', (client) => {
    if (wrapped.has(client)) return;
    wrapped.add(client);
    const query = client.query;
    client.query = function (this: pg.PoolClient, ...args: unknown[]) {
      sent++;
      recording?.push(statementText(args[0]));
      return (query as (...args: unknown[]) => unknown).apply(this, args);
    } as typeof client.query;
  });
  return {
    count: () => sent,
    async record(run) {
      const statements: string[] = [];
      recording = statements;
      try {
        await run();
      } finally {
        recording = undefined;
      }
      return statements;
    },
  };
}

function statementText(query: unknown): string {
  const text =
    typeof query === 'string'
      ? query
      : typeof query === 'object' && query !== null && 'text' in query
        ? String(query.text)
        : String(query);
  return text.replace(/\s+/g, ' ').trim();
}
