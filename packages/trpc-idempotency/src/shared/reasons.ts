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
  /**
   * The operation ran (at `completedAt`), but its response is past the TTL and
   * no longer stored: only its tombstone is (SPEC 3.7; 404). Never retried, never
   * executed again: show it as done, without its result.
   */
  outcomeExpired: 'IDEMPOTENCY_OUTCOME_EXPIRED',
  /** The input cannot be fingerprinted (a cycle, a function, too deep…): 400, fix the request. */
  inputNotFingerprintable: 'IDEMPOTENCY_INPUT_NOT_FINGERPRINTABLE',
  /** The server's `scope` option returned no usable scope (500): a server bug to fix. */
  scopeInvalid: 'IDEMPOTENCY_SCOPE_INVALID',
} as const;

/** One of {@link IDEMPOTENCY_REASONS}. */
export type IdempotencyReason = (typeof IDEMPOTENCY_REASONS)[keyof typeof IDEMPOTENCY_REASONS];

/** The fields the idempotency error formatter adds to `error.data`. */
export interface IdempotencyErrorData {
  reason: IdempotencyReason;
  /** Only on {@link IDEMPOTENCY_REASONS.inProgress}: when to retry, in milliseconds. */
  retryAfterMs?: number;
  /** Only on {@link IDEMPOTENCY_REASONS.outcomeExpired}: when the operation completed, epoch ms. */
  completedAt?: number;
  /**
   * The server's horizon, in ms: how long after completing an operation its
   * key stays bound (SPEC 3.7, 7.10). A client never resends an operation older
   * than it. Set by the server on every idempotency error of a call it reached.
   */
  horizonMs?: number;
}

/** The response header that carries the server's horizon in ms (SPEC 7.10). */
export const IDEMPOTENCY_HORIZON_HEADER = 'Idempotency-Horizon-Ms';

/** The input field that carries the key. */
export const IDEMPOTENCY_KEY_FIELD = 'idempotencyKey';

/**
 * The response header that says no retry can fix a failure (a bug in the
 * handler, a constraint violation): `Idempotency-Should-Retry: false`, as
 * Stripe's `Stripe-Should-Retry`. The client stops at once (SPEC 7.11).
 * @see README.md#one-retry-budget
 */
export const IDEMPOTENCY_SHOULD_RETRY_HEADER = 'Idempotency-Should-Retry';
