import type { IdempotencyRecord, RecordId } from '../server/record';

/** Counts of the records table at one instant. */
export interface IdempotencyStats {
  total: number;
  inProgress: number;
  /** In progress with a lease that has run out: a crashed owner, taken over by the next retry. */
  expiredLeases: number;
  completed: number;
  /** Past their expiry, invisible to lookups, waiting for purge. */
  expiredAwaitingPurge: number;
  /** Creation time of the oldest record, epoch ms. */
  oldestCreatedAt: number | null;
}

/** What `release` did. */
export type ReleaseResult = 'released' | 'not_found' | 'completed' | 'lease_live';

/**
 * Operations on the records table for people, not requests: what the
 * `trpc-idempotency` command runs. Each dialect implements it.
 * @see README.md#operations-cli
 */
export interface IdempotencyAdmin {
  stats(opts: { now: number }): Promise<IdempotencyStats>;
  /** The record as stored, expired or not. */
  inspect(id: RecordId): Promise<(IdempotencyRecord & { completedAt: number | null }) | undefined>;
  /** How many records a purge at `now` would delete. */
  countPurgeable(opts: { now: number }): Promise<number>;
  /** Delete up to `limit` purgeable records; returns how many. */
  purgeBatch(opts: { now: number; limit: number }): Promise<number>;
  /**
   * Delete a stuck in-progress record so its key executes again. Refuses a
   * live lease unless `force`, and never deletes a completed record.
   */
  release(opts: RecordId & { now: number; force: boolean }): Promise<ReleaseResult>;
  close(): Promise<void>;
}
