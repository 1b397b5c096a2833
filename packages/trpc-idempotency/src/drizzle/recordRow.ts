import type { IdempotencyRecord, RecordId, StoredOutcome, StoredStep } from '../store/record';
import type { CommitOptions, CompleteOptions } from '../store/store';

/**
 * A row of a records table as Drizzle reads it: the columns every shipped
 * store's table has (SQLite and Postgres alike), with instants as numbers.
 */
export interface IdempotencyRecordRow extends RecordId {
  path: string;
  fingerprint: string;
  state: 'in_progress' | 'completed';
  owner: string;
  attempt: number;
  leaseExpiresAtMs: number;
  expiresAtMs: number;
  createdAtMs: number;
  outcomeKind: StoredOutcome['kind'] | null;
  response: string | null;
  /** JSON text of the finished steps (lease mode), or null. */
  steps: string | null;
  completedAtMs: number | null;
  responseExpiresAtMs: number | null;
  traceContext: string | null;
}

const NO_STEPS: readonly StoredStep[] = Object.freeze([]);

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
    leaseExpiresAt: Number(row.leaseExpiresAtMs),
    expiresAt: Number(row.expiresAtMs),
    createdAt: Number(row.createdAtMs),
    ...(row.completedAtMs !== null && { completedAt: Number(row.completedAtMs) }),
    ...(row.responseExpiresAtMs !== null && {
      responseExpiresAt: Number(row.responseExpiresAtMs),
    }),
    ...(row.traceContext !== null && { traceContext: row.traceContext }),
    outcome:
      row.outcomeKind === 'error'
        ? { kind: 'error', body: row.response ?? '' }
        : row.outcomeKind === 'result'
          ? { kind: 'result', body: row.response }
          : null,
    steps: row.steps === null ? NO_STEPS : (JSON.parse(row.steps) as StoredStep[]),
  };
}

/** The `steps` column's text for a list of finished steps. */
export function stepsColumn(steps: readonly StoredStep[]): string | null {
  return steps.length === 0 ? null : JSON.stringify(steps);
}

// Both are written out field by field, the completion extras included (null
// when unset): on Node 20's V8, an object literal that starts with a spread
// and then adds keys costs about a microsecond per added key (a new hidden
// class each time), 11 µs for the nine here, once per first execution
// (BENCHMARKS.md, issue #23). test/hotPathShapes.test.ts keeps such literals
// off a request's path.

/** The placeholder values of the completed record a transactional execution inserts. */
export function completedRecordValues(opts: CommitOptions, outcome: StoredOutcome) {
  return {
    responseExpiresAt: opts.responseExpiresAt ?? null,
    traceContext: opts.traceContext ?? null,
    scope: opts.scope,
    key: opts.key,
    path: opts.path,
    fingerprint: opts.fingerprint,
    owner: opts.owner,
    now: opts.now,
    expiresAt: opts.expiresAt,
    outcomeKind: outcome.kind,
    response: outcome.body,
  };
}

/** The placeholder values of a lease-mode completion. */
export function completionValues(complete: CompleteOptions) {
  return {
    responseExpiresAt: complete.responseExpiresAt ?? null,
    traceContext: complete.traceContext ?? null,
    scope: complete.scope,
    key: complete.key,
    owner: complete.owner,
    outcomeKind: complete.outcome.kind,
    response: complete.outcome.body,
    now: complete.now,
    expiresAt: complete.expiresAt,
  };
}
