/**
 * The in-memory store entry: an idempotency store without a database, for
 * your own tests and local development.
 * @see README.md#in-memory-store
 */

export {
  type MemoryIdempotencyStore,
  type MemoryTransaction,
  memoryIdempotencyStore,
} from './store';
