import type { IdempotencyRecord, RecordIdentity } from './record';

/**
 * The record lifecycle's two rules, in plain code for the engine, the
 * in-memory reference model and stores that decide in application code. The
 * SQL stores state the same rules as conditions (`recordStatements.ts`).
 * @see README.md#record-lifecycle
 */

/** Lookups see a record until its expiry; after it, it is as if absent. */
export function isLive(record: IdempotencyRecord, now: number): boolean {
  return record.expiresAt > now;
}

/**
 * A live completed record whose response no longer replays (SPEC 3.7): past
 * its `responseExpiresAt`, or with its response dropped by purge. It still
 * binds its key, path and fingerprint until `expiresAt`; a retry with the same
 * input answers `IDEMPOTENCY_OUTCOME_EXPIRED`, never a new execution.
 */
export function isTombstone(record: IdempotencyRecord, now: number): boolean {
  return (
    record.state === 'completed' &&
    isLive(record, now) &&
    (record.outcome === null ||
      (record.responseExpiresAt !== undefined && record.responseExpiresAt <= now))
  );
}

/**
 * A request for `identity` may replace `record` at `now` when the record is
 * expired, or in progress with its lease over and the same path and input (a
 * take-over). Any other record holds its key.
 */
export function isReplaceable(
  record: IdempotencyRecord,
  request: Pick<RecordIdentity, 'path' | 'fingerprint'> & { now: number },
): boolean {
  return (
    !isLive(record, request.now) ||
    (record.state === 'in_progress' &&
      record.leaseExpiresAt <= request.now &&
      record.path === request.path &&
      record.fingerprint === request.fingerprint)
  );
}
