import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { IdempotencyRecord, StoredOutcome } from '../server/record';
import {
  type ClaimOptions,
  type ClaimResult,
  type IdempotencyStore,
  LeaseLostError,
} from '../server/store';
import { comparableRecord, createReferenceModel } from './referenceModel';

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

/**
 * Options of {@link describeIdempotencyStoreConformance}.
 * @see README.md#writing-a-store
 */
export interface IdempotencyStoreConformanceOptions<TTx> {
  /** Names the `describe` block, e.g. `'postgres'`. */
  name: string;
  /**
   * A fresh fixture, called once per test (and once per property-test run):
   * its records and probe tables must be empty.
   */
  createStore: () => Promise<ConformanceFixture<TTx>>;
  /** Claims racing for one key in the concurrency tests. Default 50. */
  concurrentClaims?: number;
  /** Expired records in the batch purge test. Default 5000. */
  purgeRecords?: number;
  /** Runs of the model-based property test. Default 100. */
  propertyRuns?: number;
  /**
   * Whether the store implements the optional `inTransaction`. Its cases run
   * only for stores that do; a case checks the store says the same.
   */
  inTransaction: boolean;
}

const T0 = Date.UTC(2026, 0, 1);
const LEASE_MS = 30_000;
const TTL_MS = 24 * 60 * 60 * 1000;

let ownerSeq = 0;
const newOwner = () => `owner-${++ownerSeq}`;

/** A claim at `now` with the executor's usual lease and expiry, for `scope`/`key`. */
function claimAt(now: number, overrides: Partial<ClaimOptions> = {}): ClaimOptions {
  return {
    scope: 'tenant-1',
    key: 'key-0001-aaaa-bbbb',
    path: 'ledger.transfer',
    fingerprint: 'fingerprint-a',
    owner: newOwner(),
    now,
    leaseExpiresAt: now + LEASE_MS,
    expiresAt: now + TTL_MS,
    maxWaitMs: 5000,
    ...overrides,
  };
}

const resultOutcome = (value: unknown): StoredOutcome => ({
  kind: 'result',
  body: JSON.stringify(value),
});
const errorOutcome: StoredOutcome = {
  kind: 'error',
  body: JSON.stringify({ code: 'PRECONDITION_FAILED', message: 'insufficient funds' }),
};

function acquired(result: ClaimResult) {
  if (!result.acquired) throw new Error(`expected to acquire, found owner ${result.record.owner}`);
  return result;
}

/**
 * Registers the store conformance suite (SPEC 6.4) with vitest: every store
 * must pass it unchanged. It drives the store's primitives directly with
 * explicit instants, so no test waits for a clock.
 *
 * ```ts
 * describeIdempotencyStoreConformance({
 *   name: 'my store',
 *   createStore: async () => ({ store, probe: { write, count }, cleanup }),
 * });
 * ```
 * @see README.md#writing-a-store
 */
export function describeIdempotencyStoreConformance<TTx>(
  opts: IdempotencyStoreConformanceOptions<TTx>,
) {
  const concurrentClaims = opts.concurrentClaims ?? 50;
  const purgeRecords = opts.purgeRecords ?? 5000;

  /** A fixture for one test; `await using` cleans it up. */
  async function open() {
    const fixture = await opts.createStore();
    return { ...fixture, [Symbol.asyncDispose]: async () => fixture.cleanup?.() };
  }

  /**
   * A commit `write` callback that inserts `value` through the probe, then
   * returns `then()`'s value (or throws). Synchronous for `sync` stores.
   */
  function writeThen<R>(
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

  /** Claim at T0, then complete with `outcome`; returns the claim. */
  async function completed(store: IdempotencyStore<TTx>, outcome: StoredOutcome, at = T0) {
    const claim = acquired(await store.claim(claimAt(at)));
    const done = await store.complete({
      ...claim.record,
      outcome,
      now: at + 10,
      expiresAt: at + TTL_MS,
    });
    expect(done).toBe(true);
    return claim;
  }

  /** The store's optional `inTransaction`, for stores that declared it. */
  function inTransactionOf(store: IdempotencyStore<TTx>) {
    if (!store.inTransaction) throw new Error('the store declared inTransaction but has none');
    return <T>(execution: (bound: IdempotencyStore<TTx>) => Promise<T>) =>
      store.inTransaction!(execution);
  }

  describe(`${opts.name}: IdempotencyStore conformance`, () => {
    describe('claim', () => {
      it('acquires an absent key as attempt 1', async () => {
        await using fixture = await open();
        const claim = claimAt(T0);
        const result = await fixture.store.claim(claim);
        expect(result).toEqual({
          acquired: true,
          takenOver: false,
          record: {
            scope: claim.scope,
            key: claim.key,
            path: claim.path,
            fingerprint: claim.fingerprint,
            state: 'in_progress',
            owner: claim.owner,
            attempt: 1,
            leaseExpiresAt: claim.leaseExpiresAt,
            expiresAt: claim.expiresAt,
            createdAt: T0,
            outcome: null,
          },
        } satisfies ClaimResult);
      });

      it('returns a live in-progress record untouched, without acquiring it', async () => {
        await using fixture = await open();
        const first = acquired(await fixture.store.claim(claimAt(T0)));
        const second = await fixture.store.claim(claimAt(T0 + 100));
        expect(second).toEqual({ acquired: false, record: first.record });
        expect(await fixture.store.find({ ...first.record, now: T0 + 100 })).toEqual(first.record);
      });

      it('returns a completed record with its outcome, without acquiring it', async () => {
        await using fixture = await open();
        const first = await completed(fixture.store, resultOutcome({ id: 7 }));
        const again = await fixture.store.claim(claimAt(T0 + 1000));
        expect(again.acquired).toBe(false);
        expect(again.record).toMatchObject({
          state: 'completed',
          owner: first.record.owner,
          attempt: 1,
          outcome: resultOutcome({ id: 7 }),
        });
      });

      it('does not take over an expired lease for another fingerprint or path', async () => {
        await using fixture = await open();
        const first = acquired(await fixture.store.claim(claimAt(T0)));
        const later = T0 + LEASE_MS + 1;
        for (const other of [{ fingerprint: 'fingerprint-b' }, { path: 'ledger.refund' }]) {
          const result = await fixture.store.claim(claimAt(later, other));
          expect(result).toEqual({ acquired: false, record: first.record });
        }
        expect(await fixture.store.find({ ...first.record, now: later })).toEqual(first.record);
      });

      it('takes over an expired lease for the same input: new owner, attempt 2', async () => {
        await using fixture = await open();
        const first = acquired(await fixture.store.claim(claimAt(T0)));
        const at = first.record.leaseExpiresAt; // a lease is over at its expiry instant
        const claim = claimAt(at);
        const second = acquired(await fixture.store.claim(claim));
        expect(second.takenOver).toBe(true);
        expect(second.record).toEqual({
          ...first.record,
          owner: claim.owner,
          attempt: 2,
          leaseExpiresAt: claim.leaseExpiresAt,
          expiresAt: claim.expiresAt,
        });
        const third = acquired(await fixture.store.claim(claimAt(claim.leaseExpiresAt)));
        expect(third.record.attempt).toBe(3);
      });

      it('does not take over a lease one millisecond before it expires', async () => {
        await using fixture = await open();
        const first = acquired(await fixture.store.claim(claimAt(T0)));
        const result = await fixture.store.claim(claimAt(first.record.leaseExpiresAt - 1));
        expect(result).toEqual({ acquired: false, record: first.record });
      });

      it('never replaces an expired record while its lease is live, for any input', async () => {
        await using fixture = await open();
        // Expires before its lease ends (a store must not rely on the executor's claims).
        const first = acquired(
          await fixture.store.claim(
            claimAt(T0, { leaseExpiresAt: T0 + 1000, expiresAt: T0 + 100 }),
          ),
        ).record;
        const at = T0 + 500; // past its expiry, within its lease: its owner may still be working
        for (const other of [{}, { fingerprint: 'fingerprint-b' }, { path: 'ledger.refund' }]) {
          const result = await fixture.store.claim(claimAt(at, other));
          expect(result).toEqual({ acquired: false, record: first });
        }
        const racing = await Promise.all(
          Array.from({ length: concurrentClaims }, () => fixture.store.claim(claimAt(at))),
        );
        expect(racing.filter((r) => r.acquired)).toHaveLength(0);
        expect(racing.every((r) => r.record.owner === first.owner)).toBe(true);
        expect(await fixture.store.purge({ now: at })).toBe(0);
        // The owner still holds it: it can complete.
        expect(
          await fixture.store.complete({
            ...first,
            outcome: resultOutcome('done'),
            now: at,
            expiresAt: at + 10,
          }),
        ).toBe(true);

        // Once the lease is over too, the record is gone: a claim starts afresh, for any input.
        const second = acquired(
          await fixture.store.claim(
            claimAt(T0, {
              key: 'lease-outlives-ttl',
              leaseExpiresAt: T0 + 1000,
              expiresAt: T0 + 100,
            }),
          ),
        ).record;
        const claim = claimAt(second.leaseExpiresAt, {
          key: second.key,
          fingerprint: 'fingerprint-b',
        });
        expect(await fixture.store.claim(claim)).toEqual({
          acquired: true,
          takenOver: false,
          record: {
            ...second,
            fingerprint: 'fingerprint-b',
            owner: claim.owner,
            attempt: 1,
            leaseExpiresAt: claim.leaseExpiresAt,
            expiresAt: claim.expiresAt,
            createdAt: claim.now,
          },
        } satisfies ClaimResult);
      });

      it('starts a fresh record once the old one expired, even for other input', async () => {
        await using fixture = await open();
        const first = await completed(fixture.store, resultOutcome('old'));
        const at = T0 + TTL_MS; // expired at its expiry instant
        const claim = claimAt(at, { path: 'ledger.refund', fingerprint: 'fingerprint-b' });
        const result = acquired(await fixture.store.claim(claim));
        expect(result.takenOver).toBe(false);
        expect(result.record).toEqual({
          ...first.record,
          path: 'ledger.refund',
          fingerprint: 'fingerprint-b',
          owner: claim.owner,
          attempt: 1,
          leaseExpiresAt: claim.leaseExpiresAt,
          expiresAt: claim.expiresAt,
          createdAt: at,
        });
      });

      it('keeps scopes apart: one key in two scopes is two records', async () => {
        await using fixture = await open();
        const a = acquired(await fixture.store.claim(claimAt(T0, { scope: 'tenant-a' })));
        const b = acquired(await fixture.store.claim(claimAt(T0, { scope: 'tenant-b' })));
        expect(b.record.owner).not.toBe(a.record.owner);
        expect(
          await fixture.store.complete({
            ...a.record,
            outcome: errorOutcome,
            now: T0,
            expiresAt: T0 + TTL_MS,
          }),
        ).toBe(true);
        expect((await fixture.store.find({ ...b.record, now: T0 }))?.state).toBe('in_progress');
        expect(await fixture.store.release(b.record)).toBe(true);
        expect((await fixture.store.find({ ...a.record, now: T0 }))?.outcome).toEqual(errorOutcome);
      });

      it(`lets exactly one of ${concurrentClaims} concurrent claims acquire a key`, async () => {
        await using fixture = await open();
        const results = await Promise.all(
          Array.from({ length: concurrentClaims }, () => fixture.store.claim(claimAt(T0))),
        );
        const winners = results.filter((r) => r.acquired);
        expect(winners).toHaveLength(1);
        const owner = winners[0]!.record.owner;
        expect(results.every((r) => r.record.owner === owner && r.record.attempt === 1)).toBe(true);
      });

      it(`lets exactly one of ${concurrentClaims} concurrent claims take over a lease`, async () => {
        await using fixture = await open();
        const first = acquired(await fixture.store.claim(claimAt(T0)));
        const at = first.record.leaseExpiresAt + 1;
        const results = await Promise.all(
          Array.from({ length: concurrentClaims }, () => fixture.store.claim(claimAt(at))),
        );
        const winners = results.filter((r) => r.acquired);
        expect(winners).toHaveLength(1);
        expect(winners[0]!.record.attempt).toBe(2);
        const owner = winners[0]!.record.owner;
        expect(results.every((r) => r.record.owner === owner)).toBe(true);
      });
    });

    describe('fenced writes', () => {
      it('complete, release and renewLease by a taken-over owner fail and change nothing', async () => {
        await using fixture = await open();
        const zombie = acquired(await fixture.store.claim(claimAt(T0))).record;
        const at = zombie.leaseExpiresAt + 5;
        const owner = acquired(await fixture.store.claim(claimAt(at))).record;
        const stale = { scope: zombie.scope, key: zombie.key, owner: zombie.owner };
        expect(
          await fixture.store.complete({
            ...stale,
            outcome: resultOutcome('zombie'),
            now: at,
            expiresAt: at + TTL_MS,
          }),
        ).toBe(false);
        expect(await fixture.store.release(stale)).toBe(false);
        expect(
          await fixture.store.renewLease({ ...stale, leaseExpiresAt: at + 10 * LEASE_MS }),
        ).toBe(false);
        expect(await fixture.store.find({ ...owner, now: at })).toEqual(owner);
      });

      it('completes once: a completed record refuses a second completion', async () => {
        await using fixture = await open();
        const claim = await completed(fixture.store, resultOutcome(1));
        const again = await fixture.store.complete({
          ...claim.record,
          outcome: resultOutcome(2),
          now: T0 + 20,
          expiresAt: T0 + 2 * TTL_MS,
        });
        expect(again).toBe(false);
        expect(await fixture.store.release(claim.record)).toBe(false);
        const found = await fixture.store.find({ ...claim.record, now: T0 + 20 });
        expect(found).toMatchObject({ outcome: resultOutcome(1), expiresAt: T0 + TTL_MS });
      });

      it('reports false for every fenced write on an absent key', async () => {
        await using fixture = await open();
        const ghost = { scope: 'tenant-1', key: 'never-claimed-key', owner: 'nobody' };
        expect(
          await fixture.store.complete({
            ...ghost,
            outcome: errorOutcome,
            now: T0,
            expiresAt: T0 + 1,
          }),
        ).toBe(false);
        expect(await fixture.store.release(ghost)).toBe(false);
        expect(await fixture.store.renewLease({ ...ghost, leaseExpiresAt: T0 + 1 })).toBe(false);
        expect(await fixture.store.find({ ...ghost, now: T0 })).toBeUndefined();
      });

      it('release by the owner frees the key for a fresh attempt 1', async () => {
        await using fixture = await open();
        const first = acquired(await fixture.store.claim(claimAt(T0))).record;
        expect(await fixture.store.release(first)).toBe(true);
        expect(await fixture.store.find({ ...first, now: T0 })).toBeUndefined();
        const again = acquired(await fixture.store.claim(claimAt(T0 + 1)));
        expect(again).toMatchObject({
          takenOver: false,
          record: { attempt: 1, createdAt: T0 + 1 },
        });
      });

      it('renewLease extends the lease, and the expiry when the lease outlives it', async () => {
        await using fixture = await open();
        const first = acquired(
          await fixture.store.claim(
            claimAt(T0, { leaseExpiresAt: T0 + 100, expiresAt: T0 + 1000 }),
          ),
        ).record;
        expect(await fixture.store.renewLease({ ...first, leaseExpiresAt: T0 + 500 })).toBe(true);
        expect(await fixture.store.find({ ...first, now: T0 + 100 })).toEqual({
          ...first,
          leaseExpiresAt: T0 + 500,
        });
        // Taking over at the old lease's end fails now; at the new lease's end it works.
        expect((await fixture.store.claim(claimAt(T0 + 100))).acquired).toBe(false);
        expect(acquired(await fixture.store.claim(claimAt(T0 + 500))).record.attempt).toBe(2);

        const outliving = acquired(
          await fixture.store.claim(
            claimAt(T0, {
              key: 'renewed-past-expiry',
              leaseExpiresAt: T0 + 100,
              expiresAt: T0 + 1000,
            }),
          ),
        ).record;
        expect(await fixture.store.renewLease({ ...outliving, leaseExpiresAt: T0 + 5000 })).toBe(
          true,
        );
        expect(await fixture.store.find({ ...outliving, now: T0 + 4999 })).toEqual({
          ...outliving,
          leaseExpiresAt: T0 + 5000,
          expiresAt: T0 + 5000,
        });
        expect(
          (await fixture.store.claim(claimAt(T0 + 4999, { key: outliving.key }))).acquired,
        ).toBe(false);
      });
    });

    describe('complete and find', () => {
      it('stores a result outcome and finds it', async () => {
        await using fixture = await open();
        const claim = await completed(fixture.store, resultOutcome({ amount: 5, note: 'ü€' }));
        expect(await fixture.store.find({ ...claim.record, now: T0 + 20 })).toMatchObject({
          state: 'completed',
          owner: claim.record.owner,
          expiresAt: T0 + TTL_MS,
          outcome: resultOutcome({ amount: 5, note: 'ü€' }),
        });
      });

      it('stores an error outcome and finds it', async () => {
        await using fixture = await open();
        const claim = await completed(fixture.store, errorOutcome);
        const found = await fixture.store.find({ ...claim.record, now: T0 + 20 });
        expect(found?.outcome).toEqual(errorOutcome);
      });

      it('stores a null result body (an `undefined` result) as null', async () => {
        await using fixture = await open();
        const claim = await completed(fixture.store, { kind: 'result', body: null });
        const found = await fixture.store.find({ ...claim.record, now: T0 + 20 });
        expect(found?.outcome).toEqual({ kind: 'result', body: null });
      });

      it('never finds an expired record, purged or not', async () => {
        await using fixture = await open();
        const claim = await completed(fixture.store, resultOutcome('x'));
        const expiry = T0 + TTL_MS;
        expect(await fixture.store.find({ ...claim.record, now: expiry - 1 })).toBeDefined();
        expect(await fixture.store.find({ ...claim.record, now: expiry })).toBeUndefined();
        expect(await fixture.store.purge({ now: expiry })).toBe(1);
        expect(await fixture.store.find({ ...claim.record, now: expiry })).toBeUndefined();
        expect(await fixture.store.find({ ...claim.record, now: T0 })).toBeUndefined();
        const inProgress = acquired(
          await fixture.store.claim(claimAt(T0, { key: 'short-lived-key', expiresAt: T0 + 50 })),
        ).record;
        expect(await fixture.store.find({ ...inProgress, now: T0 + 50 })).toBeUndefined();
      });
    });

    describe('purge', () => {
      it('deletes only expired records whose lease is over, and counts them', async () => {
        await using fixture = await open();
        const { store } = fixture;
        const at = T0 + 200;
        const key = (name: string) => `purge-key-${name}`;
        const claim = async (name: string, leaseMs: number, expiresMs: number) =>
          acquired(
            await store.claim(
              claimAt(T0, {
                key: key(name),
                leaseExpiresAt: T0 + leaseMs,
                expiresAt: T0 + expiresMs,
              }),
            ),
          ).record;
        const complete = async (name: string, expiresMs: number) => {
          const record = await claim(name, 10, expiresMs);
          await store.complete({
            ...record,
            outcome: errorOutcome,
            now: T0,
            expiresAt: T0 + expiresMs,
          });
          return record;
        };
        await complete('expired-completed', 100);
        const live = await complete('live-completed', 10_000);
        await claim('expired-in-progress', 50, 100);
        const working = await claim('live-in-progress', 1000, 10_000);
        // Its expiry passed while its lease runs: someone may still be working on it.
        const leaseOutlives = await claim('lease-outlives-expiry', 1000, 100);

        expect(await store.purge({ now: at })).toBe(2);
        expect(await store.purge({ now: at })).toBe(0);
        expect(await store.find({ ...live, now: at })).toMatchObject({ state: 'completed' });
        expect(await store.find({ ...working, now: at })).toMatchObject({ state: 'in_progress' });
        expect(await store.purge({ now: T0 + 999 })).toBe(0);
        expect(await store.purge({ now: T0 + 1000 })).toBe(1);
        expect(await store.find({ ...leaseOutlives, now: T0 + 1000 })).toBeUndefined();
        expect(await store.purge({ now: T0 + 10_000 })).toBe(2);
      });

      it('honours limit', async () => {
        await using fixture = await open();
        for (let i = 0; i < 5; i++) {
          await fixture.store.claim(
            claimAt(T0, { key: `limit-key-${i}`, leaseExpiresAt: T0 + 1, expiresAt: T0 + 1 }),
          );
        }
        expect(await fixture.store.purge({ now: T0 + 1, limit: 2 })).toBe(2);
        expect(await fixture.store.purge({ now: T0 + 1, limit: 2 })).toBe(2);
        expect(await fixture.store.purge({ now: T0 + 1, limit: 2 })).toBe(1);
        expect(await fixture.store.purge({ now: T0 + 1, limit: 2 })).toBe(0);
      });

      it(`purges ${purgeRecords} expired records in batches`, async () => {
        await using fixture = await open();
        const chunk = 100;
        for (let from = 0; from < purgeRecords; from += chunk) {
          await Promise.all(
            Array.from({ length: Math.min(chunk, purgeRecords - from) }, (_, i) =>
              fixture.store.claim(
                claimAt(T0, {
                  key: `bulk-key-${from + i}`,
                  leaseExpiresAt: T0 + 1,
                  expiresAt: T0 + 1,
                }),
              ),
            ),
          );
        }
        const live = acquired(await fixture.store.claim(claimAt(T0, { key: 'bulk-live-key' })));
        const half = Math.floor(purgeRecords / 2);
        expect(await fixture.store.purge({ now: T0 + 1, limit: half })).toBe(half);
        expect(await fixture.store.purge({ now: T0 + 1 })).toBe(purgeRecords - half);
        expect(await fixture.store.purge({ now: T0 + 1 })).toBe(0);
        expect(await fixture.store.find({ ...live.record, now: T0 + 1 })).toBeDefined();
      });
    });

    describe('commit', () => {
      const commitAt = (record: IdempotencyRecord, now = T0 + 10) => ({
        scope: record.scope,
        key: record.key,
        owner: record.owner,
        now,
        expiresAt: now + TTL_MS,
      });

      it('runs the write and completes the record in one step', async () => {
        await using fixture = await open();
        const record = acquired(await fixture.store.claim(claimAt(T0))).record;
        const result = await fixture.store.commit(
          commitAt(record),
          writeThen(fixture, 42, () => ({ id: 42 })),
          // The write's result, resolved: never a promise, even from an async write.
          (value) => resultOutcome(value),
        );
        expect(result).toEqual({ id: 42 });
        expect(await fixture.probe.count()).toBe(1);
        expect(await fixture.store.find({ ...record, now: T0 + 10 })).toMatchObject({
          state: 'completed',
          owner: record.owner,
          expiresAt: T0 + 10 + TTL_MS,
          outcome: resultOutcome({ id: 42 }),
        });
      });

      it('leaves no writes and no record change when the write throws', async () => {
        await using fixture = await open();
        const record = acquired(await fixture.store.claim(claimAt(T0))).record;
        const failing = fixture.store.commit(
          commitAt(record),
          writeThen(fixture, 1, () => {
            throw new Error('disk full');
          }),
          resultOutcome,
        );
        await expect(failing).rejects.toThrow('disk full');
        expect(await fixture.probe.count()).toBe(0);
        expect(await fixture.store.find({ ...record, now: T0 + 10 })).toEqual(record);
        // Still the owner: it can commit again (or store an error outcome).
        await fixture.store.commit(
          commitAt(record),
          writeThen(fixture, 2, () => 2),
          resultOutcome,
        );
        expect(await fixture.probe.count()).toBe(1);
      });

      it('leaves no writes and no record change when encoding the result throws', async () => {
        await using fixture = await open();
        const record = acquired(await fixture.store.claim(claimAt(T0))).record;
        const failing = fixture.store.commit(
          commitAt(record),
          writeThen(fixture, 1, () => 'too large'),
          () => {
            throw new RangeError('response too large');
          },
        );
        await expect(failing).rejects.toThrow('response too large');
        expect(await fixture.probe.count()).toBe(0);
        expect(await fixture.store.find({ ...record, now: T0 + 10 })).toEqual(record);
      });

      it('throws LeaseLostError and writes nothing for an owner that was taken over', async () => {
        await using fixture = await open();
        const zombie = acquired(await fixture.store.claim(claimAt(T0))).record;
        const at = zombie.leaseExpiresAt;
        const owner = acquired(await fixture.store.claim(claimAt(at))).record;
        const failing = fixture.store.commit(
          commitAt(zombie, at),
          writeThen(fixture, 1, () => 'zombie'),
          resultOutcome,
        );
        await expect(failing).rejects.toBeInstanceOf(LeaseLostError);
        expect(await fixture.probe.count()).toBe(0);
        expect(await fixture.store.find({ ...owner, now: at })).toEqual(owner);
      });

      it('throws LeaseLostError and writes nothing for a completed record', async () => {
        await using fixture = await open();
        const claim = await completed(fixture.store, resultOutcome('first'));
        const failing = fixture.store.commit(
          commitAt(claim.record, T0 + 20),
          writeThen(fixture, 1, () => 'second'),
          resultOutcome,
        );
        await expect(failing).rejects.toBeInstanceOf(LeaseLostError);
        expect(await fixture.probe.count()).toBe(0);
        const found = await fixture.store.find({ ...claim.record, now: T0 + 20 });
        expect(found?.outcome).toEqual(resultOutcome('first'));
      });
    });

    it(`${opts.inTransaction ? 'has' : 'has no'} inTransaction, as declared`, async () => {
      await using fixture = await open();
      expect(typeof fixture.store.inTransaction === 'function').toBe(opts.inTransaction);
    });

    // Registered only for stores that have it: an absent optional method is not a skipped case.
    if (opts.inTransaction) {
      describe('inTransaction', () => {
        it('commits an execution that resolves', async () => {
          await using fixture = await open();
          const inTransaction = inTransactionOf(fixture.store);
          const claim = claimAt(T0);
          const outcome = await inTransaction(async (tx) => {
            const record = acquired(await tx.claim(claim)).record;
            await tx.commit(
              { ...record, now: T0 + 1, expiresAt: T0 + TTL_MS },
              writeThen(fixture, 1, () => 'done'),
              resultOutcome,
            );
            return 'resolved';
          });
          expect(outcome).toBe('resolved');
          expect(await fixture.probe.count()).toBe(1);
          const found = await fixture.store.find({ ...claim, now: T0 + 1 });
          expect(found).toMatchObject({ state: 'completed', outcome: resultOutcome('done') });
        });

        it('rolls back an execution that rejects: no record, no writes', async () => {
          await using fixture = await open();
          const inTransaction = inTransactionOf(fixture.store);
          const claim = claimAt(T0);
          const failing = inTransaction(async (tx) => {
            const record = acquired(await tx.claim(claim)).record;
            await tx.commit(
              { ...record, now: T0 + 1, expiresAt: T0 + TTL_MS },
              writeThen(fixture, 1, () => 'done'),
              resultOutcome,
            );
            throw new Error('connection reset');
          });
          await expect(failing).rejects.toThrow('connection reset');
          expect(await fixture.probe.count()).toBe(0);
          expect(await fixture.store.find({ ...claim, now: T0 + 1 })).toBeUndefined();
          expect(acquired(await fixture.store.claim(claimAt(T0 + 1))).record.attempt).toBe(1);
        });

        it('after a failed commit, still completes the record with an error outcome', async () => {
          await using fixture = await open();
          const inTransaction = inTransactionOf(fixture.store);
          const claim = claimAt(T0);
          await inTransaction(async (tx) => {
            const record = acquired(await tx.claim(claim)).record;
            const commit = { ...record, now: T0 + 1, expiresAt: T0 + TTL_MS };
            const failing = tx.commit(
              commit,
              writeThen(fixture, 1, () => {
                throw new Error('insufficient funds');
              }),
              resultOutcome,
            );
            await expect(failing).rejects.toThrow('insufficient funds');
            // The executor's path for a final error thrown inside commit().
            expect(await tx.complete({ ...commit, outcome: errorOutcome })).toBe(true);
          });
          expect(await fixture.probe.count()).toBe(0);
          const found = await fixture.store.find({ ...claim, now: T0 + 1 });
          expect(found).toMatchObject({ state: 'completed', outcome: errorOutcome });
        });
      });
    }

    describe('against the reference model', () => {
      it('agrees on random sequences of claim, complete, commit, release, renew, expiry and purge', async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.array(actionArbitrary, { minLength: 10, maxLength: 40, size: 'max' }),
            (actions) => checkAgainstModel(open, writeThen, actions),
          ),
          { numRuns: opts.propertyRuns ?? 100 },
        );
      });
    });
  });
}

type OwnerPick = { current: true } | { past: number };

type Action =
  | { type: 'claim'; key: number; input: number; leaseMs: number; ttlMs: number }
  | { type: 'complete'; key: number; owner: OwnerPick; error: boolean; ttlMs: number }
  | { type: 'commit'; key: number; owner: OwnerPick; ttlMs: number }
  | { type: 'release'; key: number; owner: OwnerPick }
  | { type: 'renew'; key: number; owner: OwnerPick; leaseMs: number }
  | { type: 'advance'; ms: number }
  | { type: 'purge'; limit: number | undefined };

const KEYS = ['model-key-0000-a', 'model-key-0000-b'];
// Two procedures and two inputs: a claim may match the stored record or not.
const INPUTS = [
  { path: 'ledger.transfer', fingerprint: 'fingerprint-a' },
  { path: 'ledger.transfer', fingerprint: 'fingerprint-b' },
  { path: 'ledger.refund', fingerprint: 'fingerprint-a' },
];

const keyArbitrary = fc.integer({ min: 0, max: KEYS.length - 1 });
// Durations on a coarse grid of ticks, so leases and expiries often end exactly at `now`.
const TICK_MS = 25;
const durationArbitrary = (maxTicks: number) =>
  fc.integer({ min: 1, max: maxTicks }).map((ticks) => ticks * TICK_MS);
const ownerArbitrary: fc.Arbitrary<OwnerPick> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ current: true as const }) },
  { weight: 1, arbitrary: fc.record({ past: fc.nat() }) },
);
const actionArbitrary: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      type: fc.constant('claim' as const),
      key: keyArbitrary,
      input: fc.integer({ min: 0, max: INPUTS.length - 1 }),
      leaseMs: durationArbitrary(4),
      ttlMs: durationArbitrary(8),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('complete' as const),
      key: keyArbitrary,
      owner: ownerArbitrary,
      error: fc.boolean(),
      ttlMs: durationArbitrary(8),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('commit' as const),
      key: keyArbitrary,
      owner: ownerArbitrary,
      ttlMs: durationArbitrary(8),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('release' as const),
      key: keyArbitrary,
      owner: ownerArbitrary,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('renew' as const),
      key: keyArbitrary,
      owner: ownerArbitrary,
      leaseMs: durationArbitrary(6),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constant('advance' as const),
      ms: durationArbitrary(3),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('purge' as const),
      // Limits below, at and above how many rows are purgeable (two keys at most).
      limit: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    }),
  },
);

/** Runs `actions` against a fresh store and the reference model, comparing every answer. */
async function checkAgainstModel<TTx>(
  open: () => Promise<ConformanceFixture<TTx> & AsyncDisposable>,
  writeThen: (
    fixture: ConformanceFixture<TTx>,
    value: number,
    then: () => number,
  ) => (tx: TTx) => number | Promise<number>,
  actions: Action[],
) {
  await using fixture = await open();
  const { store } = fixture;
  const model = createReferenceModel();
  const owners: string[] = [];
  let now = T0;
  let writes = 0;
  const scope = 'model-scope';
  const ownerFor = (key: string, pick: OwnerPick) =>
    'current' in pick
      ? (model.ownerOf({ scope, key }) ?? 'nobody')
      : (owners[pick.past % Math.max(owners.length, 1)] ?? 'nobody');
  // Invariants checked on the store's own answers, independently of the model
  // (which could share a store's mistake): per key, at most one live owner — no
  // claim acquires a key while another owner's lease on it is live — and a
  // fenced write succeeds only for the owner holding the key.
  const holders = new Map<string, { owner: string; leaseExpiresAt: number }>();
  const checkHolder = (key: string, owner: string, where: string) => {
    expect(holders.get(key)?.owner, `${where}: a fenced write by a non-holder succeeded`).toBe(
      owner,
    );
  };

  for (const [step, action] of actions.entries()) {
    const where = `step ${step}: ${JSON.stringify(action)}`;
    switch (action.type) {
      case 'claim': {
        const owner = `model-owner-${step}`;
        owners.push(owner);
        const claim: ClaimOptions = {
          scope,
          key: KEYS[action.key]!,
          ...INPUTS[action.input]!,
          owner,
          now,
          leaseExpiresAt: now + action.leaseMs,
          expiresAt: now + action.ttlMs,
          maxWaitMs: 5000,
        };
        const actual = await store.claim(claim);
        const expected = model.claim(claim);
        expect({ ...actual, record: comparableRecord(actual.record) }, where).toEqual({
          ...expected,
          record: comparableRecord(expected.record),
        });
        if (actual.acquired) {
          const holder = holders.get(claim.key);
          expect(
            holder && holder.leaseExpiresAt > now ? holder.owner : undefined,
            `${where}: a second live owner`,
          ).toBeUndefined();
          holders.set(claim.key, { owner, leaseExpiresAt: claim.leaseExpiresAt });
        }
        break;
      }
      case 'complete': {
        const key = KEYS[action.key]!;
        const complete = {
          scope,
          key,
          owner: ownerFor(key, action.owner),
          outcome: action.error ? errorOutcome : resultOutcome(step),
          now,
          expiresAt: now + action.ttlMs,
        };
        const completed = await store.complete(complete);
        expect(completed, where).toBe(model.complete(complete));
        if (completed) {
          checkHolder(key, complete.owner, where);
          holders.delete(key);
        }
        break;
      }
      case 'commit': {
        const key = KEYS[action.key]!;
        const commit = {
          scope,
          key,
          owner: ownerFor(key, action.owner),
          now,
          expiresAt: now + action.ttlMs,
        };
        const expected = model.complete({ ...commit, outcome: resultOutcome(step) });
        const actual = await store
          .commit(
            commit,
            writeThen(fixture, step, () => step),
            resultOutcome,
          )
          .then(
            () => true,
            (error: unknown) => {
              if (error instanceof LeaseLostError) return false;
              throw error;
            },
          );
        expect(actual, where).toBe(expected);
        if (actual) {
          checkHolder(key, commit.owner, where);
          holders.delete(key);
          writes++;
        }
        break;
      }
      case 'release': {
        const key = KEYS[action.key]!;
        const fenced = { scope, key, owner: ownerFor(key, action.owner) };
        const released = await store.release(fenced);
        expect(released, where).toBe(model.release(fenced));
        if (released) {
          checkHolder(key, fenced.owner, where);
          holders.delete(key);
        }
        break;
      }
      case 'renew': {
        const key = KEYS[action.key]!;
        const renew = {
          scope,
          key,
          owner: ownerFor(key, action.owner),
          leaseExpiresAt: now + action.leaseMs,
        };
        const renewed = await store.renewLease(renew);
        expect(renewed, where).toBe(model.renewLease(renew));
        if (renewed) {
          checkHolder(key, renew.owner, where);
          holders.set(key, { owner: renew.owner, leaseExpiresAt: renew.leaseExpiresAt });
        }
        break;
      }
      case 'advance':
        now += action.ms;
        break;
      case 'purge': {
        if (action.limit === undefined) {
          expect(await store.purge({ now }), where).toBe(model.purge({ now }));
          break;
        }
        const purgeable = model.purgeable({ now });
        const deleted = await store.purge({ now, limit: action.limit });
        expect(deleted, where).toBe(Math.min(action.limit, purgeable));
        // Which rows a limited purge picks is the store's choice: purge the rest,
        // so store and model hold the same rows again.
        expect(await store.purge({ now }), `${where}, then the rest`).toBe(purgeable - deleted);
        model.purge({ now });
        break;
      }
    }
    for (const key of KEYS) {
      const actual = await store.find({ scope, key, now });
      expect(comparableRecord(actual), `${where}, then find ${key}`).toEqual(
        comparableRecord(model.find({ scope, key, now })),
      );
    }
  }
  expect(await fixture.probe.count()).toBe(writes);
}
