import { entityKind, type Query } from 'drizzle-orm';
import type { PgDatabase } from 'drizzle-orm/pg-core';

/** A Drizzle Postgres database, whatever its driver. */
// biome-ignore lint/suspicious/noExplicitAny: any driver's result type and any schema
export type AnyPgDatabase = PgDatabase<any, any, any>;

/** The drivers the Postgres store runs on. */
export type PgDriverName = 'node-postgres' | 'postgres.js' | 'PGlite';

/**
 * The end of a transactional execution, built once by the store: a replaceable
 * record of the key deleted, then the completed record inserted, which fails
 * with a unique violation while a live record holds the key.
 */
export interface CompletedRecordQueries {
  deleteReplaceable: Query;
  insertCompleted: Query;
}

/**
 * A transactional execution's work: the handler's writes through `tx`, then
 * the completed record's placeholder values.
 */
export type TransactionWork<R> = (
  tx: unknown,
) => Promise<{ result: R; record: Record<string, unknown> }>;

/**
 * Runs `work` in a transaction on `db` and ends it with the completed record
 * and `COMMIT`, in as few round trips as the driver allows; `waitMs` bounds
 * the record insert's wait on a concurrent execution of the key. Resolves
 * with the work's result once the commit is answered; rejects with the first
 * error (the transaction then rolled back).
 */
export type RecordCommit = <R>(
  db: AnyPgDatabase,
  work: TransactionWork<R>,
  opts: { waitMs: number },
) => Promise<R>;

/**
 * What differs between the drivers of the Postgres store: the SQL is written
 * once (`pg/store.ts`), the glue once per driver (`nodePostgres.ts`,
 * `postgresJs.ts`, `pglite.ts`).
 */
export interface PgDriver {
  readonly name: PgDriverName;
  /** Whether `db` is on this driver (Drizzle's session kind, and the client it holds). */
  matches(db: AnyPgDatabase): boolean;
  /** Rows a write statement changed, from what Drizzle's `execute` answered. */
  changedRows(result: unknown): number;
  /** The transactional commit, on the record queries the store built. */
  recordCommit(queries: CompletedRecordQueries): RecordCommit;
  /** Applies drizzle-kit migrations, one process at a time where several can share the database. */
  migrate(
    db: AnyPgDatabase,
    config: { migrationsFolder: string; migrationsTable: string },
  ): Promise<void>;
}

/** The Drizzle session class of `db` (`NodePgSession`, `PostgresJsSession`, …). */
export function sessionKind(db: AnyPgDatabase): string | undefined {
  const session = (db as { _?: { session?: object } })._?.session;
  const kind = (session?.constructor as { [entityKind]?: unknown } | undefined)?.[entityKind];
  return typeof kind === 'string' ? kind : undefined;
}

/** The client a Drizzle database was made on (`db.$client`). */
export function clientOf(db: AnyPgDatabase): unknown {
  return (db as { $client?: unknown }).$client;
}

/**
 * A Postgres error along Drizzle's cause chain (Drizzle wraps driver errors):
 * its SQLSTATE and, where the server named it, its table (`table` in
 * node-postgres and PGlite, `table_name` in postgres.js).
 */
export function postgresError(error: unknown): { code: string; table?: string } | undefined {
  for (let at = error, depth = 0; at && typeof at === 'object' && depth < 5; depth++) {
    const { code, table, table_name } = at as Record<string, unknown>;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
      const named = typeof table === 'string' ? table : table_name;
      return typeof named === 'string' ? { code, table: named } : { code };
    }
    at = (at as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A statement's text and its parameters filled from placeholder values. */
export type FilledQuery = { sql: string; params: unknown[] };
