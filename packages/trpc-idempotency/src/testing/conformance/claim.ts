import { describe, expect } from 'vitest';
import type { ClaimResult } from '../../store/store';
import {
  acquired,
  claimAt,
  completedByLease,
  errorOutcome,
  LEASE_MS,
  resultOutcome,
  type SuiteContext,
  T0,
  TTL_MS,
} from './fixture';

/** Lease mode's claim: insert, take over a lapsed lease, or leave the record alone. */
export function describeClaim<TTx>(suite: SuiteContext<TTx>) {
  const { it, concurrency } = suite;

  describe('claim', () => {
    it('acquires an absent key as attempt 1', async ({ fixture }) => {
      const claim = claimAt(T0);
      expect(await fixture.store.claim(claim)).toEqual({
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
          steps: [],
        },
      } satisfies ClaimResult);
    });

    it('returns a live in-progress record untouched, without acquiring it', async ({ fixture }) => {
      const first = acquired(await fixture.store.claim(claimAt(T0)));
      const second = await fixture.store.claim(claimAt(T0 + 100));
      expect(second).toEqual({ acquired: false, record: first.record });
      expect(await fixture.store.find({ ...first.record, now: T0 + 100 })).toEqual(first.record);
    });

    it('returns a completed record with its outcome, without acquiring it', async ({ fixture }) => {
      const first = await completedByLease(fixture.store, resultOutcome({ id: 7 }));
      const again = await fixture.store.claim(claimAt(T0 + 1000));
      expect(again.acquired).toBe(false);
      expect(again.record).toMatchObject({
        state: 'completed',
        owner: first.record.owner,
        attempt: 1,
        outcome: resultOutcome({ id: 7 }),
      });
    });

    it('does not take over a lapsed lease for another fingerprint or path', async ({ fixture }) => {
      const first = acquired(await fixture.store.claim(claimAt(T0)));
      const later = first.record.leaseExpiresAt + 1;
      for (const other of [{ fingerprint: 'fingerprint-b' }, { path: 'ledger.refund' }]) {
        const result = await fixture.store.claim(claimAt(later, other));
        expect(result).toEqual({ acquired: false, record: first.record });
      }
      expect(await fixture.store.find({ ...first.record, now: later })).toEqual(first.record);
    });

    it('takes over a lapsed lease for the same input: new owner, attempt 2, steps kept', async ({
      fixture,
    }) => {
      const first = acquired(await fixture.store.claim(claimAt(T0)));
      const steps = [{ name: 'reserve', body: '{"id":1}' }];
      expect(await fixture.store.saveSteps({ ...first.record, steps })).toBe(true);
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
        steps,
      });
      const third = acquired(await fixture.store.claim(claimAt(claim.leaseExpiresAt)));
      expect(third.record.attempt).toBe(3);
    });

    it('does not take over a lease one millisecond before it ends', async ({ fixture }) => {
      const first = acquired(await fixture.store.claim(claimAt(T0)));
      const result = await fixture.store.claim(claimAt(first.record.leaseExpiresAt - 1));
      expect(result).toEqual({ acquired: false, record: first.record });
    });

    // A TTL as short as the lease must not free a crashed execution's key for other input.
    it('keeps a lapsed lease bound to its input until a full TTL after the lease', async ({
      fixture,
    }) => {
      const ttlMs = 5000;
      const leaseExpiresAt = T0 + 5000;
      const first = acquired(
        await fixture.store.claim(
          claimAt(T0, { leaseExpiresAt, expiresAt: leaseExpiresAt + ttlMs }),
        ),
      ).record;
      const afterLease = leaseExpiresAt + 1000;
      const other = await fixture.store.claim(
        claimAt(afterLease, { fingerprint: 'fingerprint-b' }),
      );
      expect(other).toEqual({ acquired: false, record: first });
      expect(await fixture.store.purge({ now: afterLease })).toBe(0);
      const retry = acquired(await fixture.store.claim(claimAt(afterLease)));
      expect(retry).toMatchObject({ takenOver: true, record: { attempt: 2 } });
    });

    it('starts a fresh record once the old one expired, for any input', async ({ fixture }) => {
      const first = await completedByLease(fixture.store, resultOutcome('old'));
      const at = T0 + 10 + TTL_MS; // expired at its expiry instant
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
        steps: [],
      });
    });

    it('starts afresh, without its steps, over an abandoned record a TTL past its lease', async ({
      fixture,
    }) => {
      const first = acquired(await fixture.store.claim(claimAt(T0))).record;
      await fixture.store.saveSteps({ ...first, steps: [{ name: 'a', body: null }] });
      const claim = claimAt(first.expiresAt, { fingerprint: 'fingerprint-b' });
      const result = acquired(await fixture.store.claim(claim));
      expect(result).toMatchObject({ takenOver: false, record: { attempt: 1, steps: [] } });
    });

    it('keeps scopes apart: one key in two scopes is two records', async ({ fixture }) => {
      const a = acquired(await fixture.store.claim(claimAt(T0, { scope: 'tenant-a' })));
      const b = acquired(await fixture.store.claim(claimAt(T0, { scope: 'tenant-b' })));
      expect(b.record.owner).not.toBe(a.record.owner);
      const done = await fixture.store.complete({
        ...a.record,
        outcome: errorOutcome,
        now: T0,
        expiresAt: T0 + TTL_MS,
      });
      expect(done).toBe(true);
      expect((await fixture.store.find({ ...b.record, now: T0 }))?.state).toBe('in_progress');
      expect(await fixture.store.release(b.record)).toBe(true);
      expect((await fixture.store.find({ ...a.record, now: T0 }))?.outcome).toEqual(errorOutcome);
    });

    it(`lets exactly one of ${concurrency} concurrent claims acquire a key`, async ({
      fixture,
    }) => {
      const results = await Promise.all(
        Array.from({ length: concurrency }, () => fixture.store.claim(claimAt(T0))),
      );
      const winners = results.filter((r) => r.acquired);
      expect(winners).toHaveLength(1);
      const owner = winners[0]!.record.owner;
      expect(results.every((r) => r.record.owner === owner && r.record.attempt === 1)).toBe(true);
    });

    it(`lets exactly one of ${concurrency} concurrent claims take over a lease`, async ({
      fixture,
    }) => {
      const first = acquired(await fixture.store.claim(claimAt(T0)));
      const at = first.record.leaseExpiresAt + LEASE_MS / 2;
      const results = await Promise.all(
        Array.from({ length: concurrency }, () => fixture.store.claim(claimAt(at))),
      );
      const winners = results.filter((r) => r.acquired);
      expect(winners).toHaveLength(1);
      expect(winners[0]!.record.attempt).toBe(2);
      const owner = winners[0]!.record.owner;
      expect(results.every((r) => r.record.owner === owner)).toBe(true);
    });
  });
}
