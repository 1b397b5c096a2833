import { describe, expect } from 'vitest';
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

/** Lease mode's fenced writes: only the owner of an in-progress record changes it. */
export function describeFencedWrites<TTx>(suite: SuiteContext<TTx>) {
  const { it } = suite;

  describe('fenced writes', () => {
    it('complete, release, renewLease and saveSteps by a taken-over owner fail and change nothing', async ({
      fixture,
    }) => {
      const zombie = acquired(await fixture.store.claim(claimAt(T0))).record;
      const at = zombie.leaseExpiresAt + 5;
      const owner = acquired(await fixture.store.claim(claimAt(at))).record;
      const stale = { scope: zombie.scope, key: zombie.key, owner: zombie.owner };
      const completedByZombie = await fixture.store.complete({
        ...stale,
        outcome: resultOutcome('zombie'),
        now: at,
        expiresAt: at + TTL_MS,
      });
      expect(completedByZombie).toBe(false);
      expect(await fixture.store.release(stale)).toBe(false);
      const renewed = await fixture.store.renewLease({
        ...stale,
        leaseExpiresAt: at + 10 * LEASE_MS,
        expiresAt: at + 10 * LEASE_MS + TTL_MS,
      });
      expect(renewed).toBe(false);
      const saved = await fixture.store.saveSteps({ ...stale, steps: [{ name: 'x', body: '1' }] });
      expect(saved).toBe(false);
      expect(await fixture.store.find({ ...owner, now: at })).toEqual(owner);
    });

    it('completes once: a completed record refuses a second completion and steps', async ({
      fixture,
    }) => {
      const claim = await completedByLease(fixture.store, resultOutcome(1));
      const again = await fixture.store.complete({
        ...claim.record,
        outcome: resultOutcome(2),
        now: T0 + 20,
        expiresAt: T0 + 2 * TTL_MS,
      });
      expect(again).toBe(false);
      expect(await fixture.store.release(claim.record)).toBe(false);
      const saved = await fixture.store.saveSteps({ ...claim.record, steps: [] });
      expect(saved).toBe(false);
      const found = await fixture.store.find({ ...claim.record, now: T0 + 20 });
      expect(found).toMatchObject({ outcome: resultOutcome(1), expiresAt: T0 + 10 + TTL_MS });
    });

    it('reports false for every fenced write on an absent key', async ({ fixture }) => {
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
      expect(
        await fixture.store.renewLease({ ...ghost, leaseExpiresAt: T0 + 1, expiresAt: T0 + 2 }),
      ).toBe(false);
      expect(await fixture.store.saveSteps({ ...ghost, steps: [] })).toBe(false);
      expect(await fixture.store.find({ ...ghost, now: T0 })).toBeUndefined();
    });

    it('release by the owner frees the key for a fresh attempt 1', async ({ fixture }) => {
      const first = acquired(await fixture.store.claim(claimAt(T0))).record;
      expect(await fixture.store.release(first)).toBe(true);
      expect(await fixture.store.find({ ...first, now: T0 })).toBeUndefined();
      const again = acquired(await fixture.store.claim(claimAt(T0 + 1)));
      expect(again).toMatchObject({ takenOver: false, record: { attempt: 1, createdAt: T0 + 1 } });
    });

    it('renewLease moves the lease and the expiry as given', async ({ fixture }) => {
      const first = acquired(
        await fixture.store.claim(claimAt(T0, { leaseExpiresAt: T0 + 100, expiresAt: T0 + 200 })),
      ).record;
      const renewed = await fixture.store.renewLease({
        ...first,
        leaseExpiresAt: T0 + 500,
        expiresAt: T0 + 600,
      });
      expect(renewed).toBe(true);
      expect(await fixture.store.find({ ...first, now: T0 + 100 })).toEqual({
        ...first,
        leaseExpiresAt: T0 + 500,
        expiresAt: T0 + 600,
      });
      // Taking over at the old lease's end fails now; at the new lease's end it works.
      expect((await fixture.store.claim(claimAt(T0 + 100))).acquired).toBe(false);
      expect(acquired(await fixture.store.claim(claimAt(T0 + 500))).record.attempt).toBe(2);
    });

    it('completing stores the outcome with its expiry and drops the steps', async ({ fixture }) => {
      const first = acquired(await fixture.store.claim(claimAt(T0))).record;
      await fixture.store.saveSteps({ ...first, steps: [{ name: 'charge', body: '"ch_1"' }] });
      const outcome = resultOutcome({ amount: 5, note: 'ü€' });
      const done = await fixture.store.complete({
        ...first,
        outcome,
        now: T0 + 20,
        expiresAt: T0 + 20 + TTL_MS,
      });
      expect(done).toBe(true);
      expect(await fixture.store.find({ ...first, now: T0 + 20 })).toMatchObject({
        state: 'completed',
        owner: first.owner,
        expiresAt: T0 + 20 + TTL_MS,
        outcome,
        steps: [],
      });
    });

    it('stores a null result body (an `undefined` result) as null', async ({ fixture }) => {
      const claim = await completedByLease(fixture.store, { kind: 'result', body: null });
      const found = await fixture.store.find({ ...claim.record, now: T0 + 20 });
      expect(found?.outcome).toEqual({ kind: 'result', body: null });
    });

    it('never finds an expired record, purged or not', async ({ fixture }) => {
      const claim = await completedByLease(fixture.store, resultOutcome('x'));
      const expiry = T0 + 10 + TTL_MS;
      expect(await fixture.store.find({ ...claim.record, now: expiry - 1 })).toBeDefined();
      expect(await fixture.store.find({ ...claim.record, now: expiry })).toBeUndefined();
      expect(await fixture.store.purge({ now: expiry })).toBe(1);
      expect(await fixture.store.find({ ...claim.record, now: T0 })).toBeUndefined();
    });
  });

  describe('steps', () => {
    it('saves the finished steps, in order, and finds them with the record', async ({
      fixture,
    }) => {
      const record = acquired(await fixture.store.claim(claimAt(T0))).record;
      const steps = [
        { name: 'reserve', body: '{"reservation":"r_1"}' },
        { name: 'undefined result', body: null },
        { name: 'unicode ü€ "quoted"', body: '"ü€\\n"' },
      ];
      expect(await fixture.store.saveSteps({ ...record, steps: steps.slice(0, 1) })).toBe(true);
      expect(await fixture.store.saveSteps({ ...record, steps })).toBe(true);
      expect(await fixture.store.find({ ...record, now: T0 + 1 })).toEqual({ ...record, steps });
    });

    it('a release removes the steps with the record', async ({ fixture }) => {
      const record = acquired(await fixture.store.claim(claimAt(T0))).record;
      await fixture.store.saveSteps({ ...record, steps: [{ name: 'a', body: '1' }] });
      expect(await fixture.store.release(record)).toBe(true);
      const again = acquired(await fixture.store.claim(claimAt(T0 + 1)));
      expect(again.record.steps).toEqual([]);
    });
  });
}
