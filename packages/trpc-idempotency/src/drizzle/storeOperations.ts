import type { IdempotencyRecord, StoredOutcome } from '../store/record';
import {
  type ClaimResult,
  type CommitResult,
  checkPurgeOptions,
  type PurgeOptions,
} from '../store/store';

/** A store option that must be a positive integer, checked when the store is made. */
export function positiveInteger(store: string, name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${store}: ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/**
 * Purge: for each phase in turn (deleting expired records, then dropping
 * expired responses), statements of at most `batchSize` rows (each holds its
 * rows' locks only while it runs) until `limit` rows are done in all or a
 * batch finds fewer than it may take.
 */
export async function purgeInBatches(
  purge: PurgeOptions,
  batchSize: number,
  ...phases: ((limit: number) => number | Promise<number>)[]
): Promise<number> {
  const limit = checkPurgeOptions(purge);
  let done = 0;
  for (const phase of phases) {
    while (done < limit) {
      const batch = Math.min(batchSize, limit - done);
      const count = await phase(batch);
      done += count;
      if (count < batch) break;
    }
  }
  return done;
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

/**
 * A lease-mode claim: the in-progress record inserted (or a replaceable one
 * taken over) and read back, else the live record that holds the key. Tried
 * twice, because the holder may be gone between the two statements (released,
 * or expired this very millisecond): then the key is free again.
 */
export async function claimOrFind(
  /** The record this claim now holds, or undefined if a live record holds the key. */
  claim: () => IdempotencyRecord | undefined | Promise<IdempotencyRecord | undefined>,
  find: () => IdempotencyRecord | undefined | Promise<IdempotencyRecord | undefined>,
): Promise<ClaimResult> {
  for (let round = 0; round < 2; round++) {
    const claimed = await claim();
    if (claimed) return { acquired: true, record: claimed, takenOver: claimed.attempt > 1 };
    const record = await find();
    if (record) return { acquired: false, record };
  }
  throw new Error('idempotency record vanished twice during one claim');
}

/**
 * A transactional execution whose transaction failed and rolled back, for any
 * reason (the handler threw, a statement failed): the live record of its key
 * if a concurrent execution stored one meanwhile, as `found`, so a legitimate
 * retry that raced the first execution replays its result. This is how such a
 * retry ends when its handler's own write fails because of the first (an
 * insert of a unique column from the input waits on the first's row, then
 * violates the constraint once it commits) before the key was ever looked
 * at. Undefined when no record holds the key, or the lookup fails too: the
 * original error stands.
 */
export async function foundAfterFailedWrite(
  find: () => Promise<IdempotencyRecord | undefined>,
): Promise<CommitResult<never> | undefined> {
  const record = await find().catch(() => undefined);
  return record ? { status: 'found', record } : undefined;
}
