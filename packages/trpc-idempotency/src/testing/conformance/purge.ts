import { describe, expect } from 'vitest';
import {
  acquired,
  claimAt,
  commitAt,
  commitWriting,
  completedByLease,
  resultOutcome,
  type SuiteContext,
  T0,
  TTL_MS,
} from './fixture';

/** Purge: only expired records, never one a concurrent request claimed or completed. */
export function describePurge<TTx>(suite: SuiteContext<TTx>) {
  const { it, purgeRecords, concurrency } = suite;

  describe('purge', () => {
    it('deletes only expired records, and counts them', async ({ fixture }) => {
      const { store } = fixture;
      const at = T0 + 10 + TTL_MS;
      // Expired: completed past its TTL; abandoned in progress a TTL past its lease.
      await completedByLease(store, resultOutcome('old'), T0, { key: 'purge-completed-old' });
      acquired(
        await store.claim(
          claimAt(T0, { key: 'purge-abandoned', leaseExpiresAt: T0 + 5, expiresAt: T0 + 10 }),
        ),
      );
      // Live: completed within its TTL; in progress within a TTL after its lease, lapsed or not.
      await completedByLease(store, resultOutcome('new'), at - 100, { key: 'purge-completed-new' });
      acquired(
        await store.claim(
          claimAt(T0, { key: 'purge-lapsed', leaseExpiresAt: T0 + 5, expiresAt: at + 1 }),
        ),
      );
      acquired(await store.claim(claimAt(at - 1, { key: 'purge-leased' })));
      expect(await store.purge({ now: at })).toBe(2);
      expect(await store.purge({ now: at })).toBe(0);
      for (const key of ['purge-completed-new', 'purge-lapsed', 'purge-leased']) {
        expect(await store.find({ scope: 'tenant-1', key, now: at }), key).toBeDefined();
      }
    });

    it('honours limit', async ({ fixture }) => {
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

    it('refuses a limit that is not a positive integer, and a non-finite now', async ({
      fixture,
    }) => {
      await fixture.store.claim(
        claimAt(T0, { key: 'bad-limit-key', leaseExpiresAt: T0 + 1, expiresAt: T0 + 1 }),
      );
      for (const limit of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
        await expect(fixture.store.purge({ now: T0 + 1, limit }), String(limit)).rejects.toThrow(
          RangeError,
        );
      }
      for (const now of [Number.NaN, Number.POSITIVE_INFINITY]) {
        await expect(fixture.store.purge({ now }), String(now)).rejects.toThrow(RangeError);
      }
      expect(await fixture.store.purge({ now: T0 + 1 })).toBe(1);
    });

    it(`purges ${purgeRecords} expired records in batches`, async ({ fixture }) => {
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

    // The duplicate effect a purge must never cause: it deletes a record that a
    // request re-created for an expired key meanwhile, so a retry runs again.
    it(`never deletes a record claimed or committed while it runs (${concurrency} keys)`, async ({
      fixture,
    }) => {
      const { store } = fixture;
      const keys = Array.from({ length: concurrency }, (_, i) => `purge-race-${i}`);
      for (const key of keys) {
        acquired(
          await store.claim(claimAt(T0, { key, leaseExpiresAt: T0 + 1, expiresAt: T0 + 2 })),
        );
      }
      const at = T0 + 10;
      // Half re-claimed (lease mode), half re-committed (transactional) as purges run.
      const replacing = keys.map((key, i) =>
        i % 2 === 0
          ? store
              .claim(claimAt(at, { key, fingerprint: 'fingerprint-new' }))
              .then((r) => r.acquired)
          : commitWriting(
              fixture,
              commitAt(at, { key, fingerprint: 'fingerprint-new' }),
              i,
              () => i,
            ).then((r) => r.status === 'committed'),
      );
      const purges = Array.from({ length: 4 }, () => store.purge({ now: at, limit: 3 }));
      const [replaced, purged] = await Promise.all([Promise.all(replacing), Promise.all(purges)]);
      expect(replaced.every(Boolean)).toBe(true);
      for (const key of keys) {
        const record = await store.find({ scope: 'tenant-1', key, now: at });
        expect(record?.fingerprint, key).toBe('fingerprint-new');
      }
      // Whatever the purges deleted were the old, expired rows only.
      expect(purged.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(keys.length);
      expect(await store.purge({ now: at })).toBe(0);
      expect(await fixture.probe.count()).toBe(Math.floor(keys.length / 2));
    });
  });
}
