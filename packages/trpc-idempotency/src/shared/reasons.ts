/**
 * Machine-readable reasons carried in `error.data.reason` of every
 * idempotency-specific error. Shared by the server and the browser-safe client,
 * so this file must import nothing.
 * @see README.md#errors
 */
export const IDEMPOTENCY_REASONS = {
  /** The `idempotencyKey` is missing, empty, malformed or too long (400). */
  keyInvalid: 'IDEMPOTENCY_KEY_INVALID',
  /** The key was first used with another procedure or another input (422). */
  keyReused: 'IDEMPOTENCY_KEY_REUSED',
  /** The first request with this key is still running (409); retry later. */
  inProgress: 'IDEMPOTENCY_IN_PROGRESS',
  /** The handler's result could not be stored for replay (500). */
  responseNotStorable: 'IDEMPOTENCY_RESPONSE_NOT_STORABLE',
  /** The idempotency store failed (500); retry with the same key. */
  storeUnavailable: 'IDEMPOTENCY_STORE_UNAVAILABLE',
} as const;

/** One of {@link IDEMPOTENCY_REASONS}. */
export type IdempotencyReason = (typeof IDEMPOTENCY_REASONS)[keyof typeof IDEMPOTENCY_REASONS];

/** The fields the idempotency error formatter adds to `error.data`. */
export interface IdempotencyErrorData {
  reason: IdempotencyReason;
  /** Only on {@link IDEMPOTENCY_REASONS.inProgress}: when to retry, in milliseconds. */
  retryAfterMs?: number;
}

/** The input field that carries the key. */
export const IDEMPOTENCY_KEY_FIELD = 'idempotencyKey';
