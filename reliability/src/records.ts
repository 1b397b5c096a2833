import { recordId } from '@ledger/testkit';
import Database from 'better-sqlite3';
import { asc } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { idempotencyRecords, type SqliteIdempotencyRow } from 'trpc-idempotency/sqlite';

/** One row of `idempotency_records`, every column, as the library's SQLite schema reads it. */
export type RecordRow = SqliteIdempotencyRow;

/**
 * Every idempotency record in a SQLite file, read on a connection of its own
 * (the server may be running, or dead).
 */
export function readRecords(file: string): RecordRow[] {
  const client = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return drizzle(client)
      .select()
      .from(idempotencyRecords)
      .orderBy(asc(idempotencyRecords.scope), asc(idempotencyRecords.key))
      .all();
  } finally {
    client.close();
  }
}

/** How one record differs between two snapshots. */
export type RecordChange =
  | { change: 'added'; scope: string; key: string; after: RecordRow }
  | { change: 'removed'; scope: string; key: string; before: RecordRow }
  | {
      change: 'changed';
      scope: string;
      key: string;
      columns: string[];
      before: RecordRow;
      after: RecordRow;
    };

/** Every record added, removed or changed (with the columns that changed) from `before` to `after`. */
export function diffRecords(before: RecordRow[], after: RecordRow[]): RecordChange[] {
  const old = new Map(before.map((row) => [recordId(row), row]));
  const changes: RecordChange[] = [];
  for (const row of after) {
    const previous = old.get(recordId(row));
    old.delete(recordId(row));
    if (!previous) {
      changes.push({ change: 'added', scope: row.scope, key: row.key, after: row });
      continue;
    }
    const columns = (Object.keys(row) as (keyof RecordRow)[]).filter(
      (column) => row[column] !== previous[column],
    );
    if (columns.length > 0) {
      changes.push({
        change: 'changed',
        scope: row.scope,
        key: row.key,
        columns,
        before: previous,
        after: row,
      });
    }
  }
  for (const row of old.values()) {
    changes.push({ change: 'removed', scope: row.scope, key: row.key, before: row });
  }
  return changes;
}
