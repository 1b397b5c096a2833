import { isLive, isReplaceable } from '../store/lifecycle';
import type { IdempotencyRecord, RecordId, StoredOutcome } from '../store/record';
import {
  type CommitOptions,
  type CommitResult,
  type CompletionExtras,
  checkPurgeOptions,
  type FencedOptions,
  type IdempotencyStore,
} from '../store/store';

/**
 * What `ctx.idempotency.commit((tx) => …)` gets with a memory store: there
 * is no database, so the handler's "writes" are functions queued on the
 * transaction. They run, in order, right after the completed record is
 * stored, in the same synchronous step; a throw in `write` (or a result that
 * cannot be stored) discards them all, as a rollback would.
 * @see README.md#in-memory-store
 */
export interface MemoryTransaction {
  /** Queues `apply` (it must not throw) to run if and when this commit stores its record. */
  onCommit(apply: () => void): void;
}

/** The in-memory store: an {@link IdempotencyStore} with synchronous transactions. */
export interface MemoryIdempotencyStore extends IdempotencyStore<MemoryTransaction> {
  readonly transactionKind: 'sync';
  /** How many records it holds, expired ones included until a purge deletes them. */
  readonly size: number;
}

/**
 * An idempotency store in this process's memory, for tests and local
 * development: records live in a `Map` and are lost with the process, and two
 * processes never see each other's. Every primitive runs in one synchronous
 * step, so each is atomic. It passes the same conformance suite as the
 * SQLite and Postgres stores.
 *
 * ```ts
 * const idempotent = idempotentProcedure({
 *   procedure: t.procedure,
 *   store: memoryIdempotencyStore(),
 *   scope: ({ ctx }) => ctx.userId,
 * });
 * ```
 * @see README.md#in-memory-store
 */
export function memoryIdempotencyStore(): MemoryIdempotencyStore {
  const records = new Map<string, IdempotencyRecord>();
  const idOf = (id: RecordId) => `${id.scope}\u0000${id.key}`;
  /** The record `opts.owner` still owns in progress. */
  const owned = (opts: FencedOptions) => {
    const record = records.get(idOf(opts));
    return record?.state === 'in_progress' && record.owner === opts.owner ? record : undefined;
  };
  /** The live record holding the key against a request, if any. */
  const holder = (request: CommitOptions) => {
    const record = records.get(idOf(request));
    return record && !isReplaceable(record, request) ? record : undefined;
  };
  /** A completed record for a transactional write: fresh, whatever it replaces. */
  const storeCompleted = (opts: CommitOptions, outcome: StoredOutcome) => {
    records.set(idOf(opts), {
      scope: opts.scope,
      key: opts.key,
      path: opts.path,
      fingerprint: opts.fingerprint,
      state: 'completed',
      owner: opts.owner,
      attempt: 1,
      createdAt: opts.now,
      leaseExpiresAt: opts.now,
      expiresAt: opts.expiresAt,
      outcome,
      steps: [],
      ...completion(opts.now, opts),
    });
  };

  return {
    transactionKind: 'sync',
    get size() {
      return records.size;
    },

    async find(opts) {
      const record = records.get(idOf(opts));
      return record && isLive(record, opts.now) ? copy(record) : undefined;
    },

    async commit<R>(
      opts: CommitOptions,
      write: (tx: MemoryTransaction) => R,
      encode: (result: Awaited<R>) => StoredOutcome,
    ): Promise<CommitResult<Awaited<R>>> {
      const held = holder(opts);
      if (held) return { status: 'found', record: copy(held) };
      const queued: Array<() => void> = [];
      let open = true;
      const tx: MemoryTransaction = {
        onCommit(apply) {
          if (!open) throw new Error('memory store: this commit() transaction is over');
          queued.push(apply);
        },
      };
      try {
        // A sync store's write is synchronous (the engine refuses a promise).
        const result = write(tx) as Awaited<R>;
        const outcome = encode(result);
        storeCompleted(opts, outcome);
        for (const apply of queued) apply();
        return { status: 'committed', result, outcome };
      } finally {
        open = false;
      }
    },

    async insertCompleted(opts) {
      const held = holder(opts);
      if (held) return { status: 'found', record: copy(held) };
      storeCompleted(opts, opts.outcome);
      return { status: 'committed', result: undefined, outcome: opts.outcome };
    },

    async claim(opts) {
      const id = idOf(opts);
      const existing = records.get(id);
      if (existing && !isReplaceable(existing, opts)) {
        return { acquired: false, record: copy(existing) };
      }
      // A live record it may replace is a lapsed lease: a take-over keeps its count, age and steps.
      const takenOver = existing !== undefined && isLive(existing, opts.now);
      const record: IdempotencyRecord = {
        scope: opts.scope,
        key: opts.key,
        path: opts.path,
        fingerprint: opts.fingerprint,
        state: 'in_progress',
        owner: opts.owner,
        attempt: takenOver ? existing.attempt + 1 : 1,
        createdAt: takenOver ? existing.createdAt : opts.now,
        leaseExpiresAt: opts.leaseExpiresAt,
        expiresAt: opts.expiresAt,
        outcome: null,
        steps: takenOver ? existing.steps : [],
      };
      records.set(id, record);
      return { acquired: true, record: copy(record), takenOver };
    },

    async renewLease(opts) {
      const record = owned(opts);
      if (!record) return false;
      records.set(idOf(opts), {
        ...record,
        leaseExpiresAt: opts.leaseExpiresAt,
        expiresAt: opts.expiresAt,
      });
      return true;
    },

    async saveSteps(opts) {
      const record = owned(opts);
      if (!record) return false;
      records.set(idOf(opts), { ...record, steps: opts.steps.map((step) => ({ ...step })) });
      return true;
    },

    async complete(opts) {
      const record = owned(opts);
      if (!record) return false;
      records.set(idOf(opts), {
        ...record,
        state: 'completed',
        outcome: opts.outcome,
        expiresAt: opts.expiresAt,
        steps: [],
        ...completion(opts.now, opts),
      });
      return true;
    },

    async release(opts) {
      return owned(opts) ? records.delete(idOf(opts)) : false;
    },

    async purge(opts) {
      const limit = checkPurgeOptions(opts);
      let purged = 0;
      for (const [id, record] of records) {
        if (purged >= limit) break;
        if (!isLive(record, opts.now)) {
          records.delete(id);
          purged++;
        } else if (record.responseExpiresAt !== undefined && record.responseExpiresAt <= opts.now) {
          // Past its response's TTL: only the tombstone stays, binding the key until it expires.
          const { responseExpiresAt: _dropped, ...tombstone } = record;
          records.set(id, { ...tombstone, outcome: null });
          purged++;
        }
      }
      return purged;
    },
  };
}

/** What a completing write stores beside its outcome; an unset extra is absent, as stores read it back. */
function completion(now: number, extras: CompletionExtras) {
  return {
    completedAt: now,
    ...(extras.responseExpiresAt !== undefined && { responseExpiresAt: extras.responseExpiresAt }),
    ...(extras.traceContext !== undefined && { traceContext: extras.traceContext }),
  };
}

/** A record the caller may change without changing the store's. */
function copy(record: IdempotencyRecord): IdempotencyRecord {
  return {
    ...record,
    outcome: record.outcome && { ...record.outcome },
    steps: record.steps.map((step) => ({ ...step })),
  };
}
