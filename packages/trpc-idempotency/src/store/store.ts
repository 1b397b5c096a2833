import type {
  IdempotencyRecord,
  RecordId,
  RecordIdentity,
  StoredOutcome,
  StoredStep,
} from './record';

/** A lookup at one instant. */
export interface FindOptions extends RecordId {
  now: number;
}

/**
 * What every write that completes a record may carry beside its expiry: the
 * end of its response's TTL, when the record stays a tombstone after it, and
 * the trace of the execution.
 */
export interface CompletionExtras {
  /**
   * When the stored response stops replaying (its TTL from now); the record
   * stays a tombstone from then until `expiresAt` (the horizon). Unset: the
   * response replays until `expiresAt`, no tombstone.
   */
  responseExpiresAt?: number;
  /** W3C `traceparent` of this execution, stored for replays' span links. */
  traceContext?: string;
}

/**
 * Transactional mode: what a first execution stores when it completes. The
 * record is created completed, in the same write as the handler's effects.
 */
export interface CommitOptions extends RecordIdentity, CompletionExtras {
  now: number;
  /**
   * When the completed record expires and its key is free: its tombstone
   * horizon from now (or its TTL, without `responseExpiresAt`).
   */
  expiresAt: number;
  /** Who completed it (the execution's id, for operators). */
  owner: string;
  /**
   * How long this request may wait for a concurrent, uncommitted execution of
   * the same key to end, in ms (0 with the `reject` policy). A store that can
   * block on another transaction (Postgres' unique index) bounds the block by
   * it and answers `busy` after it; others ignore it.
   */
  maxWaitMs: number;
}

/** Transactional mode: a completed record to insert unless the key is taken. */
export interface InsertCompletedOptions extends CommitOptions {
  outcome: StoredOutcome;
}

/**
 * The answer of a transactional write (`commit`, `insertCompleted`):
 * - `committed`: the record (and the writes) are stored;
 * - `found`: a live record held the key first; nothing was written, and it is
 *   returned as it stands (completed elsewhere, or in progress in lease mode);
 * - `busy`: the key is held by a concurrent execution that did not end within
 *   `maxWaitMs`; nothing was written.
 */
export type CommitResult<R> =
  | { status: 'committed'; result: R; outcome: StoredOutcome }
  | { status: 'found'; record: IdempotencyRecord }
  | { status: 'busy' };

/** Lease mode: what a request asks for when it wants to execute a key. */
export interface ClaimOptions extends RecordIdentity {
  owner: string;
  now: number;
  leaseExpiresAt: number;
  /** When the in-progress record expires if abandoned: a full TTL after its lease. */
  expiresAt: number;
}

/**
 * The answer to a claim: either this request now owns the record (new,
 * replacing an expired one, or taken over after its lease ran out), or the
 * record belongs to someone else and is returned as it is.
 */
export type ClaimResult =
  | { acquired: true; record: IdempotencyRecord; takenOver: boolean }
  | { acquired: false; record: IdempotencyRecord };

/** Every write that changes an in-progress record names its owner (fencing). */
export interface FencedOptions extends RecordId {
  owner: string;
}

/** Lease mode: completion of a record with its outcome. */
export interface CompleteOptions extends FencedOptions, CompletionExtras {
  outcome: StoredOutcome;
  now: number;
  /** As {@link CommitOptions.expiresAt}. */
  expiresAt: number;
}

/** Lease mode: a longer lease (and expiry, a TTL after it). */
export interface RenewLeaseOptions extends FencedOptions {
  leaseExpiresAt: number;
  expiresAt: number;
}

/** Lease mode: the finished steps of an execution, all of them, in order. */
export interface SaveStepsOptions extends FencedOptions {
  steps: readonly StoredStep[];
}

/** What a purge does at `now`: expired records deleted, expired responses dropped. */
export interface PurgeOptions {
  now: number;
  /** At most this many (a positive integer); default: all. */
  limit?: number;
}

/**
 * Persistence for idempotency records: a few primitive operations, with the
 * state machine written once above them (the engine, `server/engine.ts`). Every method is atomic
 * on its own.
 *
 * Two families, one per mode:
 * - transactional mode never writes before its commit: `commit` checks the key
 *   and stores the handler's writes with the completed record in one
 *   transaction; `insertCompleted` stores an outcome without writes;
 * - lease mode claims the key first (`claim`), then changes the record only
 *   with fenced writes (`renewLease`, `saveSteps`, `complete`, `release`),
 *   which touch an `in_progress` record still owned by `owner` and report
 *   whether they did.
 *
 * A record is *replaceable* at `now` by a request with some path and
 * fingerprint when it is expired (`expiresAt <= now`), or in progress with an
 * expired lease and that same path and fingerprint (a take-over). A claim or a
 * commit replaces such a record; every other record holds its key.
 *
 * `TTx` is the transaction handle a transactional handler writes through.
 * @see README.md#writing-a-store
 */
export interface IdempotencyStore<TTx = unknown> {
  /** The live (not expired at `now`) record, if any. */
  find(opts: FindOptions): Promise<IdempotencyRecord | undefined>;
  /**
   * Transactional mode, one transaction: run `write` with the transaction
   * handle, derive the outcome with `encode` (an async store awaits the
   * write's result first), and store the completed record, replacing a
   * replaceable one. If a live record holds the key (one that is not
   * replaceable), nothing is written and it is returned (`found`): a store
   * may look first and not run `write` (SQLite), or learn it at the insert and
   * roll the writes back (Postgres). A throw from `write` or `encode` rolls
   * everything back and is rethrown as it is, unless a store that can race
   * (Postgres) finds a live record holding the key once rolled back: a
   * concurrent execution stored it meanwhile and the write failed because of
   * it (a unique column both inserted); then `found`.
   */
  commit<R>(
    opts: CommitOptions,
    write: (tx: TTx) => R,
    encode: (result: Awaited<R>) => StoredOutcome,
  ): Promise<CommitResult<Awaited<R>>>;
  /**
   * Transactional mode: store a completed record with `outcome` unless a live
   * record holds the key (then return it, `found`); one insert-if-absent.
   */
  insertCompleted(opts: InsertCompletedOptions): Promise<CommitResult<undefined>>;
  /**
   * Lease mode: insert an `in_progress` record, or replace a replaceable one
   * (an expired lease with the same path and fingerprint is taken over:
   * attempt + 1, its steps kept). Otherwise return the record untouched.
   */
  claim(opts: ClaimOptions): Promise<ClaimResult>;
  /** Fenced: extend the owner's lease and expiry. */
  renewLease(opts: RenewLeaseOptions): Promise<boolean>;
  /** Fenced: replace the record's finished steps. */
  saveSteps(opts: SaveStepsOptions): Promise<boolean>;
  /** Fenced: store the outcome and mark the record completed (its steps are dropped). */
  complete(opts: CompleteOptions): Promise<boolean>;
  /** Fenced: delete the owner's in-progress record so the key is free again. */
  release(opts: FencedOptions): Promise<boolean>;
  /**
   * Delete records expired at `now`, then drop the responses of completed
   * records whose `responseExpiresAt` has passed (they stay as tombstones
   * until `expiresAt`), up to `limit` rows in all; returns how many rows it
   * deleted or reduced to tombstones. Never touches a record that a
   * concurrent request has claimed, taken over or completed meanwhile,
   * whatever the store's isolation.
   */
  purge(opts: PurgeOptions): Promise<number>;
  /**
   * `sync` when `commit` runs `write` inside a synchronous transaction (SQLite
   * through better-sqlite3): the write callback must not be async.
   */
  readonly transactionKind: 'sync' | 'async';
}

/** A store of any transaction type, for constraints. */
// biome-ignore lint/suspicious/noExplicitAny: constraint type
export type AnyIdempotencyStore = IdempotencyStore<any>;

/** The transaction handle type of a store. */
export type inferStoreTransaction<TStore> =
  TStore extends IdempotencyStore<infer TTx> ? TTx : never;

/**
 * Thrown by a lease-mode handle when the execution no longer owns its record:
 * its lease expired and another request took it over.
 */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor(id: RecordId) {
    super(`lost the lease on idempotency record (${id.scope}, ${id.key}) to another owner`);
  }
}

/**
 * The purge `limit` checked: a positive integer, or undefined for all.
 * Stores call it so a bad limit is a clear error, not a database one.
 */
export function checkPurgeOptions(opts: PurgeOptions): number {
  if (typeof opts.now !== 'number' || !Number.isFinite(opts.now)) {
    throw new RangeError(`purge: now must be a finite epoch-ms number, got ${String(opts.now)}`);
  }
  if (opts.limit === undefined) return Number.POSITIVE_INFINITY;
  if (!Number.isSafeInteger(opts.limit) || opts.limit <= 0) {
    throw new RangeError(`purge: limit must be a positive integer, got ${String(opts.limit)}`);
  }
  return opts.limit;
}
