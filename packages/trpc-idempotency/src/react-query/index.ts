/**
 * TanStack Query integration (browser-safe): idempotent mutations whose key
 * follows the user's intent (reused by every retry, a double submit, a
 * resubmission and a reload), honest about outcomes it does not know,
 * persisted until their outcome is known and resumed after a reload, never
 * past the server's horizon. React and TanStack Query are optional peers of the package, needed
 * only for this entry.
 * @see README.md#tanstack-query
 */

export { FALLBACK_HORIZON_MS } from '../shared/retention';
export {
  DEFAULT_RETRIES,
  getIdempotencyKey,
  idempotentMutationOptions,
  idempotentRetry,
  idempotentRetryDelay,
  type KeyRequiredMutationOptions,
  MissingIdempotencyKeyError,
} from './idempotentMutationOptions';
export {
  isAlreadyDone,
  isOutcomeUnknown,
  type OperationState,
  type OutcomeUnknownCause,
  OutcomeUnknownError,
  operationStateOf,
} from './operationState';
export {
  createPendingOperations,
  type PendingOperations,
  type PendingOperationsOptions,
} from './pendingOperations';
export {
  type IdempotentOperation,
  PendingOperationsProvider,
  type UseIdempotentMutationResult,
  useIdempotentMutation,
} from './useIdempotentMutation';
