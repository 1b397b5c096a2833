import Database from 'better-sqlite3';

/** One row of `idempotency_records`, every column, as SQLite holds it. */
export interface RecordRow {
  scope: string;
  key: string;
  path: string;
  fingerprint: string;
  state: 'in_progress' | 'completed';
  owner: string;
  attempt: number;
  leaseExpiresAtMs: number;
  expiresAtMs: number;
  createdAtMs: number;
  completedAtMs: number | null;
  outcomeKind: 'result' | 'error' | null;
  response: string | null;
}

/** `scope` and `key` as one string, for maps. */
export const recordId = (row: { scope: string; key: string }) => `${row.scope}\u0000${row.key}`;

/**
 * Every idempotency record in a SQLite file, read on a connection of its own
 * (the server may be running, or dead).
 */
export function readRecords(file: string): RecordRow[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare(
        `SELECT scope, key, path, fingerprint, state, owner, attempt,
                lease_expires_at_ms AS leaseExpiresAtMs, expires_at_ms AS expiresAtMs,
                created_at_ms AS createdAtMs, completed_at_ms AS completedAtMs,
                outcome_kind AS outcomeKind, response
         FROM idempotency_records ORDER BY scope, key`,
      )
      .all() as RecordRow[];
  } finally {
    db.close();
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
