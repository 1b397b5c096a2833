/**
 * The persisted state of one idempotency key. All instants are epoch
 * milliseconds (never seconds) so no conversion can slip in between layers.
 */

/** `in_progress` while an owner executes; `completed` once the outcome is stored. */
export type IdempotencyRecordState = 'in_progress' | 'completed';

/** What a completed record replays: a result or a final (deterministic) error. */
export type StoredOutcome =
  | {
      kind: 'result' /** transformer-serialized JSON text, `null` for `undefined` */;
      body: string | null;
    }
  | { kind: 'error' /** JSON text of a {@link StoredError} */; body: string };

/** A final error as stored: enough to rethrow an identical `TRPCError`. */
export interface StoredError {
  code: string;
  message: string;
  /** Plain, JSON-safe fields of the original error's `cause`, if it had one. */
  cause?: { name: string; message: string; [field: string]: unknown };
}

/** Identity of a record: `(scope, key)`. */
export interface RecordId {
  scope: string;
  key: string;
}

/** One row of the idempotency table, as every store returns it. */
export interface IdempotencyRecord extends RecordId {
  /** The procedure path the key was first used with. */
  path: string;
  /** Hash of the canonical input without the key. */
  fingerprint: string;
  state: IdempotencyRecordState;
  /** Whoever currently executes (in progress) or last executed (completed). */
  owner: string;
  /** 1 for the first execution, +1 for every lease take-over. */
  attempt: number;
  leaseExpiresAt: number;
  /** After this instant the record no longer exists for lookups. */
  expiresAt: number;
  createdAt: number;
  /** Set when completed. */
  outcome: StoredOutcome | null;
}

/**
 * A row of a records table as Drizzle reads it: the columns every shipped
 * store's table has (SQLite and Postgres alike), with instants as numbers.
 */
export interface IdempotencyRecordRow extends RecordId {
  path: string;
  fingerprint: string;
  state: IdempotencyRecordState;
  owner: string;
  attempt: number;
  leaseExpiresAtMs: number;
  expiresAtMs: number;
  createdAtMs: number;
  outcomeKind: StoredOutcome['kind'] | null;
  response: string | null;
}

/** A row as the store-independent record. */
export function recordFromRow(row: IdempotencyRecordRow): IdempotencyRecord {
  return {
    scope: row.scope,
    key: row.key,
    path: row.path,
    fingerprint: row.fingerprint,
    state: row.state,
    owner: row.owner,
    attempt: row.attempt,
    leaseExpiresAt: row.leaseExpiresAtMs,
    expiresAt: row.expiresAtMs,
    createdAt: row.createdAtMs,
    outcome:
      row.outcomeKind === 'error'
        ? { kind: 'error', body: row.response ?? '' }
        : row.outcomeKind === 'result'
          ? { kind: 'result', body: row.response }
          : null,
  };
}
