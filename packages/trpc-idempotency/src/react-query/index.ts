/**
 * TanStack Query integration (browser-safe): idempotent mutations whose key is
 * fixed when the user asks for the operation, reused by every retry and a
 * double submit, persisted until their outcome is known and resumed after a
 * reload. React and TanStack Query are optional peers of the package, needed
 * only for this entry.
 * @see README.md#tanstack-query
 */

export {
  DEFAULT_RETRIES,
  getIdempotencyKey,
  idempotentMutationOptions,
  idempotentRetry,
  idempotentRetryDelay,
  MissingIdempotencyKeyError,
} from './idempotentMutationOptions';
export {
  createPendingOperations,
  type PendingOperations,
  type PendingOperationsOptions,
} from './pendingOperations';
export {
  PendingOperationsProvider,
  type UseIdempotentMutationResult,
  useIdempotentMutation,
} from './useIdempotentMutation';
