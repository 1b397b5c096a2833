/**
 * The browser-safe client entry: a link that adds idempotency keys and retries
 * mutations safely, and helpers to branch on idempotency errors. Imports nothing
 * from Node.
 * @see README.md#the-client-link
 */

export type {
  IdempotencyKeyInput,
  IdempotentProcedures,
  inferIdempotentPaths,
} from '../shared/idempotentInput';
export {
  IDEMPOTENCY_HORIZON_HEADER,
  IDEMPOTENCY_KEY_FIELD,
  IDEMPOTENCY_REASONS,
  IDEMPOTENCY_SHOULD_RETRY_HEADER,
  type IdempotencyErrorData,
  type IdempotencyReason,
} from '../shared/reasons';
export {
  getHorizonMs,
  getIdempotencyReason,
  getRetryAfterMs,
  type IdempotencyClientError,
  type IdempotencyClientErrorData,
  type IdempotencyReasonCodes,
  isIdempotencyError,
  isIdempotencyInProgress,
  isIdempotencyKeyInvalid,
  isIdempotencyKeyReused,
  isIdempotencyOutcomeExpired,
  isIdempotencyResponseNotStorable,
  isMarkedNotRetryable,
  isRetryableError,
} from './errors';
export {
  type IdempotencyLinkOptions,
  type IdempotencyRetryInfo,
  idempotencyLink,
} from './idempotencyLink';
export { retriedByIdempotencyLink } from './retryBudget';
