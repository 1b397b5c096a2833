/**
 * The store-author entry: the contract an idempotency store implements, the
 * record it stores, and the lifecycle rules in plain code. Run the exported
 * conformance suite (`trpc-idempotency/testing`) against your store.
 * @see README.md#writing-a-store
 */

export { isLive, isReplaceable, isTombstone } from './lifecycle';
export type {
  IdempotencyRecord,
  IdempotencyRecordState,
  RecordId,
  RecordIdentity,
  StoredError,
  StoredOutcome,
  StoredStep,
} from './record';
export {
  type AnyIdempotencyStore,
  type ClaimOptions,
  type ClaimResult,
  type CommitOptions,
  type CommitResult,
  type CompleteOptions,
  type CompletionExtras,
  checkPurgeOptions,
  type FencedOptions,
  type FindOptions,
  type IdempotencyStore,
  type InsertCompletedOptions,
  type inferStoreTransaction,
  LeaseLostError,
  type PurgeOptions,
  type RenewLeaseOptions,
  type SaveStepsOptions,
} from './store';
