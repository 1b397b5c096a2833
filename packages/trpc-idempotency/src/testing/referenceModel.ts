import type { IdempotencyRecord, RecordId } from '../server/record';
import type { ClaimOptions, ClaimResult, CompleteOptions, FencedOptions } from '../server/store';

/**
 * The store contract as a plain in-memory map of physical rows: what every
 * store must answer, step by step. Rows stay until released, purged or
 * replaced by a claim, even once expired (lookups just stop seeing them).
 */
export function createReferenceModel() {
  const rows = new Map<string, IdempotencyRecord>();
  const idOf = (id: RecordId) => `${id.scope}\u0000${id.key}`;
  /**
   * Gone for good: expired, and not held by a live lease (a completed
   * record's lease means nothing). Only such a row may be replaced by a claim
   * or deleted by purge: while an in-progress row's lease is live its owner
   * may still be working on it, whatever its expiry says.
   */
  const gone = (row: IdempotencyRecord, now: number) =>
    row.expiresAt <= now && (row.state === 'completed' || row.leaseExpiresAt <= now);
  const owned = (opts: FencedOptions) => {
    const row = rows.get(idOf(opts));
    return row?.state === 'in_progress' && row.owner === opts.owner ? row : undefined;
  };

  return {
    claim(opts: ClaimOptions): ClaimResult {
      const row = rows.get(idOf(opts));
      const fresh: IdempotencyRecord = {
        scope: opts.scope,
        key: opts.key,
        path: opts.path,
        fingerprint: opts.fingerprint,
        state: 'in_progress',
        owner: opts.owner,
        attempt: 1,
        leaseExpiresAt: opts.leaseExpiresAt,
        expiresAt: opts.expiresAt,
        createdAt: opts.now,
        outcome: null,
      };
      if (!row || gone(row, opts.now)) {
        rows.set(idOf(opts), fresh);
        return { acquired: true, record: { ...fresh }, takenOver: false };
      }
      if (
        row.state === 'in_progress' &&
        row.leaseExpiresAt <= opts.now &&
        row.path === opts.path &&
        row.fingerprint === opts.fingerprint
      ) {
        const takenOver = { ...fresh, attempt: row.attempt + 1, createdAt: row.createdAt };
        rows.set(idOf(opts), takenOver);
        return { acquired: true, record: { ...takenOver }, takenOver: true };
      }
      return { acquired: false, record: { ...row } };
    },
    find(opts: RecordId & { now: number }) {
      const row = rows.get(idOf(opts));
      return row && row.expiresAt > opts.now ? { ...row } : undefined;
    },
    renewLease(opts: FencedOptions & { leaseExpiresAt: number }) {
      const row = owned(opts);
      if (!row) return false;
      row.leaseExpiresAt = opts.leaseExpiresAt;
      row.expiresAt = Math.max(row.expiresAt, opts.leaseExpiresAt);
      return true;
    },
    complete(opts: CompleteOptions) {
      const row = owned(opts);
      if (!row) return false;
      row.state = 'completed';
      row.outcome = opts.outcome;
      row.expiresAt = opts.expiresAt;
      return true;
    },
    release(opts: FencedOptions) {
      return owned(opts) ? rows.delete(idOf(opts)) : false;
    },
    /** Without a limit: which rows a limited purge picks is the store's choice. */
    purge(opts: { now: number }) {
      let deleted = 0;
      for (const [id, row] of rows) {
        if (gone(row, opts.now)) {
          rows.delete(id);
          deleted++;
        }
      }
      return deleted;
    },
    /** How many rows a purge at `now` may delete: a limited purge deletes `min(limit, this)`. */
    purgeable(opts: { now: number }) {
      let count = 0;
      for (const row of rows.values()) if (gone(row, opts.now)) count++;
      return count;
    },
    /** The physical row's owner, whether or not it is expired. */
    ownerOf(id: RecordId) {
      return rows.get(idOf(id))?.owner;
    },
  };
}

/**
 * A record as the contract defines it: a completed record's lease is
 * meaningless (nothing can take it over), so stores may leave any value there.
 */
export function comparableRecord(record: IdempotencyRecord | undefined) {
  if (!record || record.state === 'in_progress') return record;
  const { leaseExpiresAt: _meaningless, ...rest } = record;
  return rest;
}
