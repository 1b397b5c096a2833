import { isLive, isReplaceable } from '../store/lifecycle';
import type { IdempotencyRecord, RecordId, StoredOutcome } from '../store/record';
import type {
  ClaimOptions,
  ClaimResult,
  CommitOptions,
  CommitResult,
  CompleteOptions,
  CompletionExtras,
  FencedOptions,
  FindOptions,
  RenewLeaseOptions,
  SaveStepsOptions,
} from '../store/store';

/**
 * The store contract as a plain in-memory map of physical rows: what every
 * store must answer, step by step. Rows stay until released, purged or
 * replaced, even once expired (lookups just stop seeing them).
 * @see README.md#writing-a-store
 */
export function createReferenceModel() {
  const rows = new Map<string, IdempotencyRecord>();
  const idOf = (id: RecordId) => `${id.scope}\u0000${id.key}`;
  const owned = (opts: FencedOptions) => {
    const row = rows.get(idOf(opts));
    return row?.state === 'in_progress' && row.owner === opts.owner ? row : undefined;
  };
  /** The row holding the key against `request`: live and not replaceable by it. */
  const holder = (request: CommitOptions | ClaimOptions) => {
    const row = rows.get(idOf(request));
    return row && !isReplaceable(row, request) ? row : undefined;
  };
  /** What an insert writes over `row`: a take-over keeps attempt count, creation and steps. */
  const replacing = (row: IdempotencyRecord | undefined, now: number) =>
    row && isLive(row, now)
      ? { attempt: row.attempt + 1, createdAt: row.createdAt, steps: row.steps }
      : { attempt: 1, createdAt: now, steps: [] };

  return {
    find(opts: FindOptions) {
      const row = rows.get(idOf(opts));
      return row && isLive(row, opts.now) ? { ...row } : undefined;
    },
    /** A transactional commit whose write succeeds with `outcome`. */
    commit(opts: CommitOptions, outcome: StoredOutcome): CommitResult<undefined> {
      const held = holder(opts);
      if (held) return { status: 'found', record: { ...held } };
      // A fresh completed record, whatever it replaces: nothing ran before in this mode.
      rows.set(idOf(opts), {
        scope: opts.scope,
        key: opts.key,
        path: opts.path,
        fingerprint: opts.fingerprint,
        state: 'completed',
        owner: opts.owner,
        attempt: 1,
        createdAt: opts.now,
        steps: [],
        leaseExpiresAt: opts.now,
        expiresAt: opts.expiresAt,
        completedAt: opts.now,
        ...completionExtras(opts),
        outcome,
      });
      return { status: 'committed', result: undefined, outcome };
    },
    claim(opts: ClaimOptions): ClaimResult {
      const held = holder(opts);
      if (held) return { acquired: false, record: { ...held } };
      const row = rows.get(idOf(opts));
      const replaced = replacing(row, opts.now);
      const record: IdempotencyRecord = {
        scope: opts.scope,
        key: opts.key,
        path: opts.path,
        fingerprint: opts.fingerprint,
        state: 'in_progress',
        owner: opts.owner,
        ...replaced,
        leaseExpiresAt: opts.leaseExpiresAt,
        expiresAt: opts.expiresAt,
        outcome: null,
      };
      rows.set(idOf(opts), record);
      return { acquired: true, record: { ...record }, takenOver: replaced.attempt > 1 };
    },
    renewLease(opts: RenewLeaseOptions) {
      const row = owned(opts);
      if (!row) return false;
      row.leaseExpiresAt = opts.leaseExpiresAt;
      row.expiresAt = opts.expiresAt;
      return true;
    },
    saveSteps(opts: SaveStepsOptions) {
      const row = owned(opts);
      if (!row) return false;
      row.steps = opts.steps.map((step) => ({ ...step }));
      return true;
    },
    complete(opts: CompleteOptions) {
      const row = owned(opts);
      if (!row) return false;
      rows.set(idOf(opts), {
        ...row,
        state: 'completed',
        outcome: opts.outcome,
        expiresAt: opts.expiresAt,
        completedAt: opts.now,
        ...completionExtras(opts),
        steps: [],
      });
      return true;
    },
    release(opts: FencedOptions) {
      return owned(opts) ? rows.delete(idOf(opts)) : false;
    },
    /**
     * Without a limit: which rows a limited purge picks is the store's choice.
     * Expired rows are deleted; live ones past their response's TTL keep only
     * their tombstone.
     */
    purge(opts: { now: number }) {
      let purged = 0;
      for (const [id, row] of rows) {
        if (!isLive(row, opts.now)) {
          rows.delete(id);
          purged++;
        } else if (responseExpired(row, opts.now)) {
          const { responseExpiresAt: _dropped, ...tombstone } = row;
          rows.set(id, { ...tombstone, outcome: null });
          purged++;
        }
      }
      return purged;
    },
    /** How many rows a purge at `now` may touch: a limited purge touches `min(limit, this)`. */
    purgeable(opts: { now: number }) {
      let count = 0;
      for (const row of rows.values()) {
        if (!isLive(row, opts.now) || responseExpired(row, opts.now)) count++;
      }
      return count;
    },
    /** The physical row's owner, whether or not it is expired. */
    ownerOf(id: RecordId) {
      return rows.get(idOf(id))?.owner;
    },
  };
}

/** What a completing write stores beside its outcome, absent when unset (as stores read it back). */
function completionExtras(opts: CompletionExtras): CompletionExtras {
  return {
    ...(opts.responseExpiresAt !== undefined && { responseExpiresAt: opts.responseExpiresAt }),
    ...(opts.traceContext !== undefined && { traceContext: opts.traceContext }),
  };
}

/** A live row whose response a purge drops: its TTL is over, it still has it. */
function responseExpired(row: IdempotencyRecord, now: number) {
  return row.responseExpiresAt !== undefined && row.responseExpiresAt <= now;
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
