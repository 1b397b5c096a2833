export {
  formatIdempotencyError,
  getIdempotencyErrorData,
  IdempotencyError,
} from './server/errors';
export type { IdempotencyEvent, IdempotencyEventHandler } from './server/events';
export type { InFlightOptions } from './server/executor';
export { canonicalEncoding, fingerprintInput } from './server/fingerprint';
export type {
  IdempotencyHandle,
  LeaseIdempotencyHandle,
  TransactionalIdempotencyHandle,
} from './server/handle';
export { idempotentPaths } from './server/idempotentPaths';
export {
  type IdempotencyErrorShape,
  type IdempotencyMode,
  type IdempotentProcedureBuilder,
  type IdempotentProcedureOptions,
  idempotentProcedure,
  type inferIdempotencyHandle,
} from './server/idempotentProcedure';
export {
  type IdempotencyKeyInput,
  IdempotencyKeyInvalidError,
  type IdempotencyKeyOutput,
  type KeyFormat,
} from './server/keyFormat';
export {
  isFinalErrorDefault,
  type OutcomeTransformer,
  ReplayedErrorCause,
} from './server/outcome';
export type {
  IdempotencyRecord,
  IdempotencyRecordState,
  RecordId,
  RecordIdentity,
  StoredError,
  StoredOutcome,
  StoredStep,
} from './server/record';
export {
  type IdempotencyResponseContext,
  type IdempotencyResponseMetaOptions,
  idempotencyResponseContext,
  idempotencyResponseHeaders,
} from './server/responseHeaders';
export {
  type AnyIdempotencyStore,
  type ClaimOptions,
  type ClaimResult,
  type CommitOptions,
  type CommitResult,
  type CompleteOptions,
  type FencedOptions,
  type FindOptions,
  type IdempotencyStore,
  type InsertCompletedOptions,
  type inferStoreTransaction,
  LeaseLostError,
  type PurgeOptions,
  type RenewLeaseOptions,
  type SaveStepsOptions,
} from './server/store';
export type {
  IdempotentProcedures,
  inferIdempotentPaths,
} from './shared/idempotentInput';
export {
  IDEMPOTENCY_KEY_FIELD,
  IDEMPOTENCY_REASONS,
  type IdempotencyErrorData,
  type IdempotencyReason,
} from './shared/reasons';
