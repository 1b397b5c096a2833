import { PGlite } from '@electric-sql/pglite';
import {
  createPgLedger,
  type LedgerExecution,
  type OpenDatabase,
  openDatabase,
  type PgDriverName,
  pgMigrationsFolder,
  sqliteMigrationsFolder,
  type TransferRequest,
} from '@ledger/server';
import { tempSqliteFile } from '@ledger/testkit';
import {
  createMysqlTestDatabase,
  createTestDatabase,
  startHranaServer,
  startRoundTripCounter,
} from '@ledger/testkit/databases';
import { createClient } from '@libsql/client';
import { getTableName, type SQL, sql } from 'drizzle-orm';
import { drizzle as drizzleLibsql } from 'drizzle-orm/libsql';
import { migrate as migrateLibsql } from 'drizzle-orm/libsql/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { idempotencyRecords as mysqlRecords } from 'trpc-idempotency/mysql';
import {
  migratePgIdempotencyStore,
  pgIdempotencyStore,
  idempotencyRecords as pgRecords,
} from 'trpc-idempotency/pg';
import {
  migrateSqliteIdempotencyStore,
  sqliteIdempotencyStore,
  idempotencyRecords as sqliteRecords,
} from 'trpc-idempotency/sqlite';
import { openAccountOnAsyncSqlite, transferOnAsyncSqlite } from './asyncSqliteTransfer';
import { openBenchAccounts } from './benchRequest';
import type { BenchDatabase } from './router';
import { openBenchSqlite } from './sqlite';

/** The drivers the `drivers` suite measures, in the order of its table. */
export const BENCH_DRIVERS = [
  'better-sqlite3',
  'libsql-file',
  'libsql-remote',
  'node-postgres',
  'postgres.js',
  'pglite',
  'mysql2',
] as const;
export type BenchDriverId = (typeof BENCH_DRIVERS)[number];

/** Where the driver's database runs, for the opener. */
export interface DriverServers {
  /** A Postgres server's maintenance URL (embedded Postgres, or `BENCH_POSTGRES_URL`). */
  postgresUrl?: string | undefined;
  /** A MySQL or MariaDB server's URL, of a user who may create databases. */
  mysqlUrl?: string | undefined;
}

/** The example's ledger on one driver's database: what one row group of the suite times. */
export interface DriverDatabase extends BenchDatabase, AsyncDisposable {
  /** 1 cent from an account holding plenty to another: every call of every contender. */
  request: TransferRequest;
  /** Rows in the ledger's transfers table and the idempotency table. */
  count(): Promise<{ transfers: number; records: number }>;
  /**
   * For a driver that talks to a server over a socket: the same database
   * opened a second time through a TCP proxy that counts round trips (a
   * round trip starts whenever the client sends after the server spoke).
   */
  openCounted?: () => Promise<CountedDatabase>;
}

/** A {@link DriverDatabase}'s second connection, through the round-trip counter. */
export interface CountedDatabase extends BenchDatabase, AsyncDisposable {
  /** Round trips since the last `reset()`. */
  roundTrips(): number;
  reset(): void;
}

/**
 * Opens the example's database on `driver` with the example's own code where
 * it has some: `openDatabase` of `@ledger/server` (migrations, pool, store,
 * ledger) for better-sqlite3, node-postgres, postgres.js and mysql2; for
 * PGlite the example's Postgres migrations and ledger (`createPgLedger`) on a
 * PGlite database; for libSQL the example's SQLite migrations and tables with
 * the transfer awaited statement by statement (`asyncSqliteTransfer.ts`),
 * since the example's SQLite ledger is written for better-sqlite3.
 */
export async function openDriverDatabase(
  driver: BenchDriverId,
  servers: DriverServers,
): Promise<DriverDatabase> {
  switch (driver) {
    case 'better-sqlite3':
      return openBetterSqlite3();
    case 'libsql-file':
      return openLibsqlFile();
    case 'libsql-remote':
      return openLibsqlRemote();
    case 'node-postgres':
    case 'postgres.js':
      return openServerPg(required(servers.postgresUrl, 'Postgres'), driver);
    case 'pglite':
      return openPglite();
    case 'mysql2':
      return openServerMysql(required(servers.mysqlUrl, 'MySQL'));
  }
}

function required(url: string | undefined, what: string) {
  if (!url) throw new Error(`no ${what} server`);
  return url;
}

async function openBetterSqlite3(): Promise<DriverDatabase> {
  const database = await openBenchSqlite('drivers');
  return {
    store: database.store,
    ledger: database.ledger,
    plainExecution: database.plainExecution,
    request: database.request,
    count: async () => database.count(),
    [Symbol.asyncDispose]: () => database[Symbol.asyncDispose](),
  };
}

/** A plain transaction of Drizzle's, as the handler would open without the library. */
function plainTransaction(db: {
  transaction<T>(run: (tx: never) => Promise<T>): Promise<T>;
}): LedgerExecution {
  return {
    commit: <R>(write: (tx: unknown) => R): Promise<Awaited<R>> =>
      db.transaction(async (tx): Promise<Awaited<R>> => await write(tx)),
  };
}

/** The example's SQLite tables on a libSQL database (`file:` or remote), migrated. */
async function openLibsql(url: string, close: () => Promise<void>): Promise<DriverDatabase> {
  // The busy timeout the library requires on a file (as the example's better-sqlite3 has).
  const client = createClient({ url, timeout: 5000 });
  const closeAll = async () => {
    client.close();
    await close();
  };
  try {
    const db = drizzleLibsql({ client });
    if (url.startsWith('file:')) await client.execute('PRAGMA journal_mode = WAL');
    await migrateLibsql(db, {
      migrationsFolder: sqliteMigrationsFolder,
      migrationsTable: '__ledger_migrations',
    });
    await migrateSqliteIdempotencyStore(db);
    const store = sqliteIdempotencyStore({ db });
    const plainExecution = plainTransaction(db as never);
    const ledger = { transfer: transferOnAsyncSqlite, openAccount: openAccountOnAsyncSqlite };
    const request = await openBenchAccounts({ ledger, plainExecution, close: async () => {} });
    const records = getTableName(sqliteRecords);
    return {
      store,
      ledger,
      plainExecution,
      request,
      async count() {
        const { rows } = await client.execute(
          `SELECT (SELECT count(*) FROM transfers) AS transfers, (SELECT count(*) FROM ${records}) AS records`,
        );
        return { transfers: Number(rows[0]?.['transfers']), records: Number(rows[0]?.['records']) };
      },
      [Symbol.asyncDispose]: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

async function openLibsqlFile(): Promise<DriverDatabase> {
  const temp = tempSqliteFile('trpc-idempotency-bench-libsql');
  return openLibsql(temp.url, async () => temp[Symbol.dispose]());
}

/**
 * A remote libSQL database (`libsql://…?tls=0`) served by the library's Hrana
 * stand-in (a Node process on better-sqlite3, not sqld: npm ships no sqld).
 * Its latencies say little about Turso; its round trips are the protocol's.
 */
async function openLibsqlRemote(): Promise<DriverDatabase> {
  const temp = tempSqliteFile('trpc-idempotency-bench-hrana');
  const server = await startHranaServer(temp.file);
  const stop = async () => {
    await server[Symbol.asyncDispose]();
    temp[Symbol.dispose]();
  };
  const database = await openLibsql(server.libsqlUrl, async () => {});
  const openCounted = async (): Promise<CountedDatabase> => {
    const counter = await startRoundTripCounter(server.url);
    const counted = await openLibsql(`libsql://${new URL(counter.url).host}?tls=0`, async () => {});
    return countedDatabase(counted, counter, async () => {
      await counted[Symbol.asyncDispose]();
    });
  };
  return {
    ...database,
    openCounted,
    [Symbol.asyncDispose]: async () => {
      await database[Symbol.asyncDispose]();
      await stop();
    },
  };
}

type Counter = Awaited<ReturnType<typeof startRoundTripCounter>>;

function countedDatabase(
  database: BenchDatabase,
  counter: Counter,
  close: () => Promise<void>,
): CountedDatabase {
  return {
    store: database.store,
    ledger: database.ledger,
    plainExecution: database.plainExecution,
    roundTrips: counter.count,
    reset: counter.reset,
    [Symbol.asyncDispose]: async () => {
      await close();
      await counter[Symbol.asyncDispose]();
    },
  };
}

/** Rows of `db.execute`: node-postgres answers `{ rows }`, postgres.js and mysql2 otherwise. */
function rowsOf(result: unknown): Record<string, unknown>[] {
  if (Array.isArray(result)) {
    // mysql2: [rows, fields]
    return Array.isArray(result[0]) ? (result[0] as Record<string, unknown>[]) : result;
  }
  return (result as { rows: Record<string, unknown>[] }).rows;
}

function countsFrom(result: unknown) {
  const row = rowsOf(result)[0];
  if (!row) throw new Error('no counts');
  return { transfers: Number(row['transfers']), records: Number(row['records']) };
}

type ExecutingDb = { execute(query: SQL): Promise<unknown> };

function asBenchDatabase(database: OpenDatabase): BenchDatabase {
  const db = database.db as unknown as {
    transaction<T>(run: (tx: never) => Promise<T>): Promise<T>;
  };
  return { store: database.store, ledger: database.ledger, plainExecution: plainTransaction(db) };
}

/** A database created for the run on a database server, and dropped again. */
interface CreatedDatabase extends AsyncDisposable {
  url: string;
}

/**
 * A new database on a Postgres or MySQL server (`created`), opened by the
 * example's `openDatabase` (`open` checks it got the dialect and driver it
 * asked for), with the records table it counts, and a second connection
 * through a round-trip counter on demand.
 */
async function openServerDatabase(opts: {
  created: CreatedDatabase;
  open: (url: string) => Promise<OpenDatabase>;
  /** The count of both tables, in the dialect's SQL (Postgres' `count(*)` is a bigint). */
  countSql: (records: ReturnType<typeof sql.identifier>) => SQL;
  records: Parameters<typeof getTableName>[0];
}): Promise<DriverDatabase> {
  const { created, open } = opts;
  let database: OpenDatabase;
  try {
    database = await open(created.url);
  } catch (error) {
    await created[Symbol.asyncDispose]();
    throw error;
  }
  const close = async () => {
    await database.close();
    await created[Symbol.asyncDispose]();
  };
  const bench = asBenchDatabase(database);
  const request = await openBenchAccounts({
    ledger: database.ledger,
    plainExecution: bench.plainExecution,
    close,
  });
  const countQuery = opts.countSql(sql.identifier(getTableName(opts.records)));
  return {
    ...bench,
    request,
    count: async () =>
      countsFrom(await (database.db as unknown as ExecutingDb).execute(countQuery)),
    async openCounted() {
      const counter = await startRoundTripCounter(created.url);
      const counted = await open(counter.url);
      return countedDatabase(asBenchDatabase(counted), counter, async () => {
        await counted.close();
      });
    },
    [Symbol.asyncDispose]: close,
  };
}

/** A new database on the Postgres server, opened by the example's `openDatabase` with `driver`. */
async function openServerPg(serverUrl: string, driver: PgDriverName): Promise<DriverDatabase> {
  return openServerDatabase({
    created: await createTestDatabase(serverUrl),
    async open(url) {
      const opened = await openDatabase(url, { poolSize: 4, pgDriver: driver });
      if (opened.kind !== 'postgres' || opened.driver !== driver) {
        await opened.close();
        throw new Error(`expected a Postgres database on ${driver}`);
      }
      return opened;
    },
    records: pgRecords,
    countSql: (records) =>
      sql`SELECT (SELECT count(*)::int FROM transfers) AS transfers, (SELECT count(*)::int FROM ${records}) AS records`,
  });
}

/**
 * PGlite in memory (its default), with the example's Postgres migrations and
 * ledger. One connection, in process: no round trips to count.
 */
async function openPglite(): Promise<DriverDatabase> {
  const client = new PGlite();
  const close = () => client.close();
  try {
    const db = drizzlePglite({ client });
    await migratePglite(db, {
      migrationsFolder: pgMigrationsFolder,
      migrationsTable: '__ledger_migrations',
    });
    await migratePgIdempotencyStore(db);
    const store = pgIdempotencyStore({ db });
    const ledger = createPgLedger({ db: db as never });
    const plainExecution = plainTransaction(db as never);
    const request = await openBenchAccounts({ ledger, plainExecution, close });
    const records = sql.identifier(getTableName(pgRecords));
    return {
      store,
      ledger,
      plainExecution,
      request,
      count: async () =>
        countsFrom(
          await db.execute(
            sql`SELECT (SELECT count(*)::int FROM transfers) AS transfers, (SELECT count(*)::int FROM ${records}) AS records`,
          ),
        ),
      [Symbol.asyncDispose]: close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A new database on the MySQL or MariaDB server, opened by the example's `openDatabase`. */
async function openServerMysql(serverUrl: string): Promise<DriverDatabase> {
  return openServerDatabase({
    created: await createMysqlTestDatabase(serverUrl),
    async open(url) {
      const opened = await openDatabase(url, { poolSize: 4 });
      if (opened.kind !== 'mysql') {
        await opened.close();
        throw new Error('expected a MySQL database');
      }
      return opened;
    },
    records: mysqlRecords,
    countSql: (records) =>
      sql`SELECT (SELECT count(*) FROM transfers) AS transfers, (SELECT count(*) FROM ${records}) AS records`,
  });
}
