/**
 * The app-author entry: `idempotentProcedure` and what a handler, an error
 * formatter, `responseMeta` and a test of the client's procedure set use.
 * Stores: `trpc-idempotency/sqlite`, `/pg`, `/memory` (tests and local
 * development), `/store` (to write one); the client: `/client`,
 * `/react-query`; operations: `/admin`; tests: `/testing`.
 * @see README.md#quickstart
 */

export type { InFlightOptions } from './server/engine';
export { getIdempotencyErrorData, IdempotencyError, isUnfixableByRetry } from './server/errors';
export type { IdempotencyEvent, IdempotencyEventHandler } from './server/events';
export { canonicalEncoding, fingerprintInput } from './server/fingerprint';
export type {
  IdempotencyHandle,
  LeaseIdempotencyHandle,
  TransactionalIdempotencyHandle,
} from './server/handle';
export type { IdempotencyRequestOptions } from './server/headerKey';
export { idempotentPaths } from './server/idempotentPaths';
export {
  type IdempotencyErrorShape,
  type IdempotencyMode,
  type IdempotentProcedureBuilder,
  type IdempotentProcedureOptions,
  idempotentProcedure,
  type inferIdempotencyHandle,
} from './server/idempotentProcedure';
export type {
  IdempotencyKeyInput,
  IdempotencyKeyOutput,
  KeyFormat,
} from './server/keyFormat';
export { isFinalErrorDefault, ReplayedErrorCause } from './server/outcome';
export {
  type IdempotencyResponseContext,
  type IdempotencyResponseMetaOptions,
  idempotencyResponseContext,
  idempotencyResponseHeaders,
} from './server/responseHeaders';
export { KeyAnsweredElsewhere } from './server/signals';
export type { IdempotencyOutcome, IdempotencyTelemetryOptions } from './server/telemetry';
export type {
  IdempotentProcedures,
  inferIdempotentPaths,
} from './shared/idempotentInput';
export {
  IDEMPOTENCY_HORIZON_HEADER,
  IDEMPOTENCY_KEY_FIELD,
  IDEMPOTENCY_REASONS,
  IDEMPOTENCY_SHOULD_RETRY_HEADER,
  type IdempotencyErrorData,
  type IdempotencyReason,
} from './shared/reasons';
export {
  type AnyIdempotencyStore,
  type IdempotencyStore,
  LeaseLostError,
} from './store/store';
