import type { IdempotencyRecord, RecordId, StoredOutcome } from './record';

/** What a request asks for when it wants to execute a key. */
export interface ClaimOptions extends RecordId {
  path: string;
  fingerprint: string;
  owner: string;
  now: number;
  leaseExpiresAt: number;
  expiresAt: number;
  /**
   * How long this request may still wait for a concurrent execution of the
   * key, in ms (0 with the `reject` policy). A store whose claim can block on
   * another transaction (Postgres in `inTransaction`) bounds the block by it.
   */
  maxWaitMs: number;
}

/**
 * The answer to a claim: either this request now owns the record (new, expired
 * and recreated, or taken over after its lease ran out), or the record belongs
 * to someone else and is returned as it is.
 */
export type ClaimResult =
  | { acquired: true; record: IdempotencyRecord; takenOver: boolean }
  | { acquired: false; record: IdempotencyRecord };

/** Every write that ends an execution names its owner (fencing). */
export interface FencedOptions extends RecordId {
  owner: string;
}

/** Completion of a record with its outcome. */
export interface CompleteOptions extends FencedOptions {
  outcome: StoredOutcome;
  now: number;
  expiresAt: number;
}

/**
 * Persistence for idempotency records: a few primitive operations, with the
 * state machine written once above them (see `executeIdempotently`).
 *
 * Every method is atomic on its own. `complete`, `release`, `renewLease` and
 * `commit` are fenced: they only touch an `in_progress` record still owned by
 * `owner`, and report whether they did.
 *
 * `TTx` is the transaction handle a transactional handler writes through.
 * @see README.md#writing-a-store
 */
export interface IdempotencyStore<TTx = unknown> {
  /**
   * Insert an `in_progress` record if none is live for `(scope, key)`: absent,
   * or expired and not held by a live lease (what `purge` may delete). Or take
   * over one whose lease expired (same path and fingerprint only). Otherwise
   * return the record untouched — also an in-progress one past its expiry
   * whose lease is still live: its owner may still be working on it.
   */
  claim(opts: ClaimOptions): Promise<ClaimResult>;
  /** The live (not expired at `now`) record, if any. */
  find(opts: RecordId & { now: number }): Promise<IdempotencyRecord | undefined>;
  /** Extend the owner's lease (and the record's expiry if the lease outlives it). */
  renewLease(opts: FencedOptions & { leaseExpiresAt: number }): Promise<boolean>;
  /** Store the outcome and mark the record completed. */
  complete(opts: CompleteOptions): Promise<boolean>;
  /** Delete the owner's in-progress record so the key is free again. */
  release(opts: FencedOptions): Promise<boolean>;
  /**
   * Transactional mode: in one database transaction, check ownership, run
   * `write` with the transaction handle, and complete the record with the
   * outcome `encode` derives from `write`'s result (an async store awaits the
   * result first). If ownership was lost, nothing is written and
   * {@link LeaseLostError} is thrown.
   */
  commit<R>(
    opts: Omit<CompleteOptions, 'outcome'>,
    write: (tx: TTx) => R,
    encode: (result: Awaited<R>) => StoredOutcome,
  ): Promise<Awaited<R>>;
  /** Delete up to `limit` records expired at `now` (never one whose lease is live); returns how many. */
  purge(opts: { now: number; limit?: number }): Promise<number>;
  /**
   * Optional, used in transactional mode only: run one whole execution (claim,
   * handler, commit or release) through a store bound to one database
   * transaction, committed when `execution` resolves and rolled back when it
   * rejects. Postgres uses it so a duplicate's claim blocks on the key's unique
   * index until the first execution commits or rolls back (SPEC 5.3). Stores
   * that cannot hold a transaction across awaits (SQLite) leave it out.
   *
   * What the executor relies on: after a `commit` that threw inside the
   * execution, `complete` (with an error outcome) still succeeds in the same
   * transaction; a `release` inside it is always followed by a rejection, so
   * the rollback is what frees the key.
   */
  inTransaction?<T>(execution: (store: IdempotencyStore<TTx>) => Promise<T>): Promise<T>;
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
 * Thrown by a fenced write when the caller no longer owns the record: its
 * lease expired and another request took it over.
 */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor(id: RecordId) {
    super(`lost the lease on idempotency record (${id.scope}, ${id.key}) to another owner`);
  }
}
