export {
  formatIdempotencyError,
  getIdempotencyErrorData,
  IdempotencyError,
} from './server/errors';
export type { IdempotencyEvent, IdempotencyEventHandler } from './server/events';
export type {
  IdempotencyHandle,
  InFlightOptions,
  TransactionalIdempotencyHandle,
} from './server/executor';
export { canonicalJson, fingerprintInput } from './server/fingerprint';
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
  StoredError,
  StoredOutcome,
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
  type CompleteOptions,
  type FencedOptions,
  type IdempotencyStore,
  type inferStoreTransaction,
  LeaseLostError,
} from './server/store';
export {
  IDEMPOTENCY_KEY_FIELD,
  IDEMPOTENCY_REASONS,
  type IdempotencyErrorData,
  type IdempotencyReason,
} from './shared/reasons';
