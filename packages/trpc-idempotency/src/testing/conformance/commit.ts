import { describe, expect } from 'vitest';
import {
  acquired,
  claimAt,
  commitAt,
  committed,
  commitWriting,
  completedByLease,
  errorOutcome,
  resultOutcome,
  type SuiteContext,
  T0,
  TTL_MS,
  writeThen,
} from './fixture';

/** Transactional mode: the record is created completed, with the handler's writes. */
export function describeCommit<TTx>(suite: SuiteContext<TTx>) {
  const { it, concurrency } = suite;

  describe('commit', () => {
    it('runs the write and stores the completed record in one transaction', async ({ fixture }) => {
      const commit = commitAt(T0);
      const result = committed(
        await fixture.store.commit(
          commit,
          writeThen(fixture, 42, () => ({ id: 42 })),
          // The write's result, resolved: never a promise, even from an async write.
          (value) => resultOutcome(value),
        ),
      );
      expect(result).toEqual({
        status: 'committed',
        result: { id: 42 },
        outcome: resultOutcome({ id: 42 }),
      });
      expect(await fixture.probe.count()).toBe(1);
      const found = await fixture.store.find({ ...commit, now: T0 + 1 });
      expect(found).toMatchObject({
        scope: commit.scope,
        key: commit.key,
        path: commit.path,
        fingerprint: commit.fingerprint,
        state: 'completed',
        owner: commit.owner,
        attempt: 1,
        createdAt: T0,
        expiresAt: T0 + TTL_MS,
        outcome: resultOutcome({ id: 42 }),
        steps: [],
      });
    });

    it('writes nothing and rethrows as it is when the write throws', async ({ fixture }) => {
      const thrown = new Error('disk full');
      const failing = commitWriting(fixture, commitAt(T0), 1, () => {
        throw thrown;
      });
      await expect(failing).rejects.toBe(thrown);
      expect(await fixture.probe.count()).toBe(0);
      expect(await fixture.store.find({ scope: 'tenant-1', key: commitAt(T0).key, now: T0 })).toBe(
        undefined,
      );
      // The key is still free.
      committed(await commitWriting(fixture, commitAt(T0 + 1), 2, () => 2));
      expect(await fixture.probe.count()).toBe(1);
    });

    it('writes nothing when encoding the result throws', async ({ fixture }) => {
      const failing = fixture.store.commit(
        commitAt(T0),
        writeThen(fixture, 1, () => 'too large'),
        () => {
          throw new RangeError('response too large');
        },
      );
      await expect(failing).rejects.toThrow('response too large');
      expect(await fixture.probe.count()).toBe(0);
      expect(await fixture.store.find({ ...commitAt(T0), now: T0 })).toBeUndefined();
    });

    it('finds a completed record instead: nothing is written', async ({ fixture }) => {
      const first = committed(await commitWriting(fixture, commitAt(T0), 1, () => 'first'));
      // A store may run the write and roll it back (Postgres learns of the key at its insert).
      const second = await commitWriting(fixture, commitAt(T0 + 5), 2, () => 'second');
      expect(second).toMatchObject({
        status: 'found',
        record: { state: 'completed', outcome: first.outcome },
      });
      expect(await fixture.probe.count()).toBe(1);
    });

    it('finds a record of other input or procedure too, untouched', async ({ fixture }) => {
      const first = await completedByLease(fixture.store, errorOutcome);
      for (const other of [{ fingerprint: 'fingerprint-b' }, { path: 'ledger.refund' }]) {
        const result = await commitWriting(fixture, commitAt(T0 + 20, other), 1, () => 1);
        expect(result).toMatchObject({ status: 'found', record: { owner: first.record.owner } });
      }
      expect(await fixture.probe.count()).toBe(0);
    });

    it('finds an in-progress record whose lease is live', async ({ fixture }) => {
      const lease = acquired(await fixture.store.claim(claimAt(T0))).record;
      const result = await commitWriting(fixture, commitAt(T0 + 1), 1, () => 1);
      expect(result).toEqual({ status: 'found', record: lease });
      expect(await fixture.probe.count()).toBe(0);
    });

    it('replaces an expired record for any input, and a lapsed lease for the same input', async ({
      fixture,
    }) => {
      await completedByLease(fixture.store, resultOutcome('old'));
      const afterExpiry = T0 + 10 + TTL_MS;
      const fresh = commitAt(afterExpiry, { fingerprint: 'fingerprint-b' });
      committed(await commitWriting(fixture, fresh, 1, () => 'new'));
      expect(await fixture.store.find({ ...fresh, now: afterExpiry })).toMatchObject({
        fingerprint: 'fingerprint-b',
        attempt: 1,
        createdAt: afterExpiry,
        outcome: resultOutcome('new'),
      });

      const lapsed = acquired(await fixture.store.claim(claimAt(T0, { key: 'lapsed-lease-key' })));
      const at = lapsed.record.leaseExpiresAt;
      const mismatched = await commitWriting(
        fixture,
        commitAt(at, { key: lapsed.record.key, fingerprint: 'fingerprint-b' }),
        2,
        () => 'other input',
      );
      expect(mismatched.status).toBe('found');
      const takeOver = commitAt(at, { key: lapsed.record.key });
      committed(await commitWriting(fixture, takeOver, 3, () => 'same'));
      expect(await fixture.store.find({ ...takeOver, now: at })).toMatchObject({
        state: 'completed',
        owner: takeOver.owner,
        outcome: resultOutcome('same'),
      });
      expect(await fixture.probe.count()).toBe(2);
    });

    it(`commits exactly one of ${concurrency} concurrent commits of one key`, async ({
      fixture,
    }) => {
      const results = await Promise.all(
        Array.from({ length: concurrency }, (_, i) =>
          commitWriting(fixture, commitAt(T0), i, () => i),
        ),
      );
      const winners = results.filter((r) => r.status === 'committed');
      expect(winners).toHaveLength(1);
      const outcome = winners[0]!.outcome;
      for (const result of results) {
        if (result.status === 'found') expect(result.record.outcome).toEqual(outcome);
        else expect(result.status).toBe('committed');
      }
      expect(await fixture.probe.count()).toBe(1);
    });
  });

  describe('insertCompleted', () => {
    it('stores a completed record without writes, once', async ({ fixture }) => {
      const first = await fixture.store.insertCompleted({ ...commitAt(T0), outcome: errorOutcome });
      expect(first).toEqual({ status: 'committed', result: undefined, outcome: errorOutcome });
      const second = await fixture.store.insertCompleted({
        ...commitAt(T0 + 1),
        outcome: resultOutcome('late'),
      });
      expect(second).toMatchObject({ status: 'found', record: { outcome: errorOutcome } });
      expect(await fixture.store.find({ ...commitAt(T0), now: T0 + 1 })).toMatchObject({
        state: 'completed',
        attempt: 1,
        outcome: errorOutcome,
      });
    });

    it('finds a live lease, and replaces an expired record', async ({ fixture }) => {
      const lease = acquired(await fixture.store.claim(claimAt(T0))).record;
      const held = await fixture.store.insertCompleted({
        ...commitAt(T0 + 1),
        outcome: errorOutcome,
      });
      expect(held).toEqual({ status: 'found', record: lease });
      const afterExpiry = lease.expiresAt;
      const replaced = await fixture.store.insertCompleted({
        ...commitAt(afterExpiry, { path: 'ledger.refund' }),
        outcome: errorOutcome,
      });
      expect(replaced.status).toBe('committed');
    });

    it(`stores exactly one of ${concurrency} concurrent inserts of one key`, async ({
      fixture,
    }) => {
      const results = await Promise.all(
        Array.from({ length: concurrency }, (_, i) =>
          fixture.store.insertCompleted({ ...commitAt(T0), outcome: resultOutcome(i) }),
        ),
      );
      expect(results.filter((r) => r.status === 'committed')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'found')).toHaveLength(concurrency - 1);
    });
  });
}
