import type { IdempotencyRecord, StoredOutcome } from '../store/record';
import { type CommitResult, checkPurgeOptions, type PurgeOptions } from '../store/store';

/** A store option that must be a positive integer, checked when the store is made. */
export function positiveInteger(store: string, name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${store}: ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/**
 * Purge: statements of at most `batchSize` deletions (each holds its rows'
 * locks only while it runs) until `limit` records are gone or a batch finds
 * fewer than it may delete.
 */
export async function purgeInBatches(
  purge: PurgeOptions,
  batchSize: number,
  deleteBatch: (limit: number) => number | Promise<number>,
): Promise<number> {
  const limit = checkPurgeOptions(purge);
  let deleted = 0;
  while (deleted < limit) {
    const batch = Math.min(batchSize, limit - deleted);
    const count = await deleteBatch(batch);
    deleted += count;
    if (count < batch) break;
  }
  return deleted;
}

/**
 * A transactional execution's final outcome stored without a commit: the
 * completed record inserted if the key is free, else the live record that
 * holds it. Tried twice, because the holder may be gone between the two
 * statements (released, purged, expired this very millisecond): then the key
 * is free again. `busy` only if that happens twice.
 */
export async function insertCompletedOrFind(
  outcome: StoredOutcome,
  insert: () => boolean | Promise<boolean>,
  find: () => IdempotencyRecord | undefined | Promise<IdempotencyRecord | undefined>,
): Promise<CommitResult<undefined>> {
  for (let round = 0; round < 2; round++) {
    if (await insert()) return { status: 'committed', result: undefined, outcome };
    const record = await find();
    if (record) return { status: 'found', record };
  }
  return { status: 'busy' };
}
