import { expect, type TestAPI } from 'vitest';
import type { StoredOutcome } from '../../store/record';
import type {
  ClaimOptions,
  ClaimResult,
  CommitOptions,
  CommitResult,
  IdempotencyStore,
} from '../../store/store';

/**
 * How the suite writes "the handler's rows" through a store's transaction
 * handle and counts them afterwards. The suite cannot know your tables, so
 * the fixture brings a tiny one of its own.
 */
export interface ConformanceWriteProbe<TTx> {
  /**
   * Insert one row holding `value` through `tx`. Synchronous for a store whose
   * `transactionKind` is `sync`, may return a promise for an `async` one.
   */
  write(tx: TTx, value: number): void | Promise<void>;
  /** How many rows `write` has committed, read outside any transaction. */
  count(): Promise<number>;
}

/** One store under test, over an empty records table and an empty probe table. */
export interface ConformanceFixture<TTx> {
  store: IdempotencyStore<TTx>;
  probe: ConformanceWriteProbe<TTx>;
  /** Called after the test, whether it passed or not. */
  cleanup?: () => Promise<void>;
}

/** What every part of the suite gets: a way to open fixtures, and its sizes. */
export interface SuiteContext<TTx> {
  open: () => Promise<ConformanceFixture<TTx> & AsyncDisposable>;
  /** vitest's `it` with a `fixture` opened for each test, and cleaned up after it. */
  it: TestAPI<{ fixture: ConformanceFixture<TTx> }>;
  concurrency: number;
  purgeRecords: number;
  propertyRuns: number;
}

export const T0 = Date.UTC(2026, 0, 1);
export const LEASE_MS = 30_000;
export const TTL_MS = 24 * 60 * 60 * 1000;
export const SCOPE = 'tenant-1';
export const KEY = 'key-0001-aaaa-bbbb';
export const PATH = 'ledger.transfer';
export const FINGERPRINT = 'fingerprint-a';

let ownerSeq = 0;
export const newOwner = () => `owner-${++ownerSeq}`;

/** What every request of the suite names: its key and input, a new owner, the instant. */
const requestAt = (now: number) => ({
  scope: SCOPE,
  key: KEY,
  path: PATH,
  fingerprint: FINGERPRINT,
  owner: newOwner(),
  now,
});

/** A claim at `now` with the engine's usual lease, and expiry a TTL after it. */
export function claimAt(now: number, overrides: Partial<ClaimOptions> = {}): ClaimOptions {
  const leaseExpiresAt = overrides.leaseExpiresAt ?? now + LEASE_MS;
  return { ...requestAt(now), leaseExpiresAt, expiresAt: leaseExpiresAt + TTL_MS, ...overrides };
}

/** A transactional commit at `now`, completing with a TTL from now. */
export function commitAt(now: number, overrides: Partial<CommitOptions> = {}): CommitOptions {
  return { ...requestAt(now), expiresAt: now + TTL_MS, maxWaitMs: 5000, ...overrides };
}

export const resultOutcome = (value: unknown): StoredOutcome => ({
  kind: 'result',
  body: JSON.stringify(value),
});

export const errorOutcome: StoredOutcome = {
  kind: 'error',
  body: JSON.stringify({ code: 'PRECONDITION_FAILED', message: 'insufficient funds' }),
};

export function acquired(result: ClaimResult) {
  if (!result.acquired) throw new Error(`expected to acquire, found owner ${result.record.owner}`);
  return result;
}

export function committed<R>(result: CommitResult<R>) {
  if (result.status !== 'committed') throw new Error(`expected to commit, got ${result.status}`);
  return result;
}

/**
 * A commit `write` callback that inserts `value` through the probe, then
 * returns `then()`'s value (or throws). Synchronous for `sync` stores.
 */
export function writeThen<TTx, R>(
  fixture: ConformanceFixture<TTx>,
  value: number,
  then: () => R,
): (tx: TTx) => R | Promise<R> {
  if (fixture.store.transactionKind === 'async') {
    return async (tx) => {
      await fixture.probe.write(tx, value);
      return then();
    };
  }
  return (tx) => {
    const written = fixture.probe.write(tx, value);
    if (written instanceof Promise) {
      throw new TypeError('the probe of a sync store must write synchronously');
    }
    return then();
  };
}

/**
 * `store.commit(commit)` with a handler that writes `value` through the probe
 * and returns `then()`'s value (or throws); the value is stored as a result.
 */
export function commitWriting<TTx, R>(
  fixture: ConformanceFixture<TTx>,
  commit: CommitOptions,
  value: number,
  then: () => R,
) {
  return fixture.store.commit(commit, writeThen(fixture, value, then), resultOutcome);
}

/** Claim at `at`, then complete with `outcome` (lease mode); returns the claim. */
export async function completedByLease<TTx>(
  store: IdempotencyStore<TTx>,
  outcome: StoredOutcome,
  at = T0,
  overrides: Partial<ClaimOptions> = {},
) {
  const claim = acquired(await store.claim(claimAt(at, overrides)));
  const done = await store.complete({
    ...claim.record,
    outcome,
    now: at + 10,
    expiresAt: at + 10 + TTL_MS,
  });
  expect(done).toBe(true);
  return claim;
}
