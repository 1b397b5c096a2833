import type { IdempotencyRecord, RecordId } from './record';

/**
 * Counts of the records table at one instant.
 * @see README.md#operations-cli
 */
export interface IdempotencyStats {
  total: number;
  inProgress: number;
  /** In progress with a lease that has run out: a crashed owner, taken over by the next retry. */
  expiredLeases: number;
  completed: number;
  /**
   * Completed records whose response is past its TTL, their keys still bound
   * until the horizon (SPEC 3.7): a retry answers `IDEMPOTENCY_OUTCOME_EXPIRED`.
   * Counted in `completed` too.
   */
  tombstones: number;
  /** Gone (what the store's purge deletes): invisible to lookups, waiting for purge. */
  expiredAwaitingPurge: number;
  /** Tombstones whose response is still stored: purge drops it (the tombstone stays). */
  responsesAwaitingPurge: number;
  /** Creation time of the oldest record, epoch ms. */
  oldestCreatedAt: number | null;
}

/** The largest purge batch: one batch is one statement holding its rows' locks. */
export const MAX_BATCH_SIZE = 1_000_000;

/**
 * What `release` did.
 * @see README.md#operations-cli
 */
export type ReleaseResult = 'released' | 'not_found' | 'completed' | 'lease_live';

/**
 * Operations on the records table for people, not requests: what the
 * `trpc-idempotency` command runs. Each dialect implements it beside its store
 * (`sqlite/admin.ts`, `pg/admin.ts`), with the store's own purge and the
 * store's condition for what purge may delete. A contract beside the store's,
 * so dialects implement it without importing the operators' entry (`admin/`),
 * which loads them.
 * @see README.md#operations-cli
 */
export interface IdempotencyAdmin {
  stats(opts: { now: number }): Promise<IdempotencyStats>;
  /**
   * The record as stored, expired or not. `scope` is the one your builder's
   * `scope` option returns (stored as its SHA-256 when long: README.md#storage),
   * or that stored `sha256:…` form, as `inspect` prints it.
   */
  inspect(
    id: RecordId,
  ): Promise<(Omit<IdempotencyRecord, 'completedAt'> & { completedAt: number | null }) | undefined>;
  /**
   * How many rows a purge at `now` would touch: records it deletes (the
   * store's "gone" condition) and responses it drops (tombstones to be).
   */
  countPurgeable(opts: { now: number }): Promise<number>;
  /**
   * Purge up to `limit` (at most {@link MAX_BATCH_SIZE}) rows with the store's
   * own `purge` (a statement per phase); returns how many.
   */
  purgeBatch(opts: { now: number; limit: number }): Promise<number>;
  /**
   * Delete a stuck in-progress record so its key executes again. Refuses a
   * live lease unless `force`, and never deletes a completed record.
   */
  release(opts: RecordId & { now: number; force: boolean }): Promise<ReleaseResult>;
  close(): Promise<void>;
}

/** The database behind an admin command cannot be opened or used; the CLI exits with code 3. */
export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';
}
