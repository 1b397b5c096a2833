/**
 * What a handler sees as `ctx.idempotency`, per mode.
 * @see README.md#the-handler
 */
import type { KeyAnsweredElsewhere } from './signals';

/** Members every idempotent handler gets. */
export interface IdempotencyHandle {
  /** The client's idempotency key. */
  readonly key: string;
  /** The scope the record lives in (from the `scope` option). */
  readonly scope: string;
  /** 1 for the first execution, higher after lease take-overs (lease mode). */
  readonly attempt: number;
  /**
   * A stable key for a downstream service (a payment gateway, an email API)
   * derived from this scope, key and `name`: pass it on so retries of the
   * downstream call are deduplicated there too. The same on every attempt.
   * @see README.md#modes
   */
  downstreamKey(name: string): string;
}

/**
 * `ctx.idempotency` in transactional mode: `commit` runs the handler's writes
 * and stores the completed record in one transaction.
 * @see README.md#modes
 */
export interface TransactionalIdempotencyHandle<TTx, TKind extends 'sync' | 'async'>
  extends IdempotencyHandle {
  /**
   * Runs `write` inside one database transaction that also stores its result
   * as this key's outcome: both commit, or neither does. Nothing is written
   * before it. Call it once, and return its result from the handler. With a
   * `sync` store (SQLite) `write` must be synchronous: do the async
   * preparation before calling `commit`.
   *
   * If another request completed the key first (another process), `write`
   * does not run and `commit` rejects with {@link KeyAnsweredElsewhere}: let
   * it propagate, the stored outcome answers the request (whatever the
   * handler returns or throws after it).
   */
  commit<R>(write: (tx: TTx) => [TKind] extends ['sync'] ? SyncWrite<R> : R): Promise<Awaited<R>>;
}

/**
 * What a `sync` store's `write` may return: anything but a promise. An async
 * callback's promise meets this sentence instead, which the type error quotes.
 */
type SyncWrite<R> = [R] extends [never]
  ? R
  : [R] extends [PromiseLike<unknown>]
    ? 'commit() runs a synchronous SQLite transaction: its callback must not be async — do the async work before calling commit()'
    : R;

/**
 * `ctx.idempotency` in lease mode: the execution owns its record for a lease,
 * may renew it, and may split its work into steps that survive a crash.
 * @see README.md#modes
 */
export interface LeaseIdempotencyHandle extends IdempotencyHandle {
  /**
   * Extends this execution's lease by `leaseMs` from now. Long-running
   * handlers call it before their lease runs out; it rejects if the lease was
   * already lost to another owner (then stop: the other owner answers).
   */
  renewLease(): Promise<void>;
  /**
   * Runs `fn` once per key, as a recovery point: its result is stored when it
   * finishes, and after a crash and take-over the handler runs again from the
   * top, where this step returns the stored result without running `fn`.
   * Names must be unique within an execution. The result is returned as
   * stored (after the transformer's round trip), so a resumed run sees the
   * same value as the first.
   * @see README.md#multi-step-handlers
   */
  step<T>(name: string, fn: () => T | Promise<T>): Promise<Awaited<T>>;
}
