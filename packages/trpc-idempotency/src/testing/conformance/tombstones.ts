import { describe, expect } from 'vitest';
import { isTombstone } from '../../store/lifecycle';
import type { IdempotencyRecord } from '../../store/record';
import type { IdempotencyStore } from '../../store/store';
import {
  acquired,
  claimAt,
  commitAt,
  committed,
  commitWriting,
  errorOutcome,
  resultOutcome,
  SCOPE,
  type SuiteContext,
  T0,
  TTL_MS,
} from './fixture';

/** How long a completed record stays a tombstone after its response's TTL, in these tests. */
const TOMBSTONE_MS = 6 * TTL_MS;
const TRACE = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/** The instants of a completion at `now` that leaves a tombstone (SPEC 3.7), and its trace. */
const withTombstone = (now: number) => ({
  now,
  responseExpiresAt: now + TTL_MS,
  expiresAt: now + TTL_MS + TOMBSTONE_MS,
  traceContext: TRACE,
});

/**
 * Tombstones (SPEC 3.7) and the trace context: what a completing write
 * carries round-trips; past the response's TTL the record still binds its key
 * until its expiry; purge drops the response, then deletes the record.
 */
export function describeTombstones<TTx>(suite: SuiteContext<TTx>) {
  const { it } = suite;

  /** The key's record at `now`, which must exist. */
  const found = async (store: IdempotencyStore<TTx>, key: string, now: number) => {
    const record = await store.find({ scope: SCOPE, key, now });
    if (!record) throw new Error(`expected a record for ${key} at ${now}`);
    return record;
  };

  describe('tombstones and trace context', () => {
    it('a commit, an insert and a completion store completedAt, responseExpiresAt and traceContext', async ({
      fixture,
    }) => {
      const { store } = fixture;
      const at = T0 + 5;
      committed(
        await commitWriting(
          fixture,
          commitAt(at, { key: 'ts-commit', ...withTombstone(at) }),
          1,
          () => 1,
        ),
      );
      committed(
        await store.insertCompleted({
          ...commitAt(at, { key: 'ts-insert', ...withTombstone(at) }),
          outcome: errorOutcome,
        }),
      );
      const claim = acquired(await store.claim(claimAt(T0, { key: 'ts-lease' })));
      expect(
        await store.complete({
          ...claim.record,
          outcome: resultOutcome('done'),
          ...withTombstone(at),
        }),
      ).toBe(true);
      for (const key of ['ts-commit', 'ts-insert', 'ts-lease']) {
        expect(await found(store, key, at + 1), key).toMatchObject({
          state: 'completed',
          completedAt: at,
          responseExpiresAt: at + TTL_MS,
          expiresAt: at + TTL_MS + TOMBSTONE_MS,
          traceContext: TRACE,
        });
      }
      expect((await found(store, 'ts-lease', at + 1)).outcome).toEqual(resultOutcome('done'));
    });

    it('without them, a completed record has neither (it replays until it expires)', async ({
      fixture,
    }) => {
      const { store } = fixture;
      committed(await commitWriting(fixture, commitAt(T0, { key: 'ts-plain' }), 1, () => 1));
      const record = await found(store, 'ts-plain', T0 + TTL_MS - 1);
      expect(record.completedAt).toBe(T0);
      expect(record.responseExpiresAt).toBeUndefined();
      expect(record.traceContext).toBeUndefined();
      expect(isTombstone(record, T0 + TTL_MS - 1)).toBe(false);
      expect(await store.find({ scope: SCOPE, key: 'ts-plain', now: T0 + TTL_MS })).toBeUndefined();
    });

    it('a claim over an expired tombstone starts afresh: no outcome, completion or trace left', async ({
      fixture,
    }) => {
      const { store } = fixture;
      committed(
        await commitWriting(
          fixture,
          commitAt(T0, { key: 'ts-reuse', ...withTombstone(T0) }),
          1,
          () => 1,
        ),
      );
      const after = T0 + TTL_MS + TOMBSTONE_MS;
      const claim = acquired(
        await store.claim(claimAt(after, { key: 'ts-reuse', fingerprint: 'other' })),
      );
      expect(claim.record.attempt).toBe(1);
      const record = await found(store, 'ts-reuse', after);
      expect(record).toMatchObject({ state: 'in_progress', outcome: null, fingerprint: 'other' });
      for (const field of ['completedAt', 'responseExpiresAt', 'traceContext'] as const) {
        expect(record[field], field).toBeUndefined();
      }
    });

    it('past the response’s TTL the record binds its key until it expires; purge drops the response, then the record', async ({
      fixture,
    }) => {
      const { store } = fixture;
      committed(
        await commitWriting(
          fixture,
          commitAt(T0, { key: 'ts-life', ...withTombstone(T0) }),
          1,
          () => ({ id: 1 }),
        ),
      );
      // Within the TTL: a record with its response, nothing to purge.
      const within = T0 + TTL_MS - 1;
      expect(isTombstone(await found(store, 'ts-life', within), within)).toBe(false);
      expect(await store.purge({ now: within })).toBe(0);

      // Past it: a tombstone, response still stored until purge drops it.
      const past = T0 + TTL_MS;
      const before = await found(store, 'ts-life', past);
      expect(isTombstone(before, past)).toBe(true);
      // Nothing may take the key: not the same input, not another.
      for (const fingerprint of [before.fingerprint, 'other']) {
        const claim = await store.claim(claimAt(past, { key: 'ts-life', fingerprint }));
        expect(claim.acquired, fingerprint).toBe(false);
        const commit = await store.insertCompleted({
          ...commitAt(past, { key: 'ts-life', fingerprint }),
          outcome: resultOutcome('again'),
        });
        expect(commit.status, fingerprint).toBe('found');
      }
      expect(await store.purge({ now: past })).toBe(1);
      expect(await store.purge({ now: past })).toBe(0);
      const tombstone = await found(store, 'ts-life', past);
      expect(tombstone).toMatchObject({
        state: 'completed',
        path: before.path,
        fingerprint: before.fingerprint,
        completedAt: T0,
        expiresAt: T0 + TTL_MS + TOMBSTONE_MS,
        traceContext: TRACE,
        outcome: null,
      } satisfies Partial<IdempotencyRecord>);
      expect(tombstone.responseExpiresAt).toBeUndefined();
      expect(isTombstone(tombstone, past)).toBe(true);
      expect(
        (await commitWriting(fixture, commitAt(past + 1, { key: 'ts-life' }), 2, () => 2)).status,
      ).toBe('found');

      // Past the horizon: gone, purged, and the key is free.
      const horizon = T0 + TTL_MS + TOMBSTONE_MS;
      expect(await store.find({ scope: SCOPE, key: 'ts-life', now: horizon })).toBeUndefined();
      expect(await store.purge({ now: horizon })).toBe(1);
      committed(await commitWriting(fixture, commitAt(horizon, { key: 'ts-life' }), 3, () => 3));
      expect(await fixture.probe.count()).toBe(2);
    });

    it('purge counts dropped responses and deleted records under one limit', async ({
      fixture,
    }) => {
      const { store } = fixture;
      for (let i = 0; i < 3; i++) {
        committed(
          await store.insertCompleted({
            ...commitAt(T0, { key: `ts-limit-${i}`, ...withTombstone(T0) }),
            outcome: resultOutcome(i),
          }),
        );
      }
      // Two expired outright (no tombstone), three responses past their TTL.
      for (let i = 0; i < 2; i++) {
        acquired(
          await store.claim(
            claimAt(T0, { key: `ts-gone-${i}`, leaseExpiresAt: T0 + 1, expiresAt: T0 + 2 }),
          ),
        );
      }
      const past = T0 + TTL_MS;
      expect(await store.purge({ now: past, limit: 4 })).toBe(4);
      expect(await store.purge({ now: past, limit: 4 })).toBe(1);
      expect(await store.purge({ now: past })).toBe(0);
      for (let i = 0; i < 3; i++) {
        expect((await found(store, `ts-limit-${i}`, past)).outcome).toBeNull();
      }
    });

    it('purge never drops the response of a record completed again meanwhile', async ({
      fixture,
    }) => {
      const { store } = fixture;
      const keys = Array.from({ length: suite.concurrency }, (_, i) => `ts-race-${i}`);
      // Responses past their TTL at `at`, horizons at `at` too: each key is free there.
      for (const key of keys) {
        committed(
          await store.insertCompleted({
            ...commitAt(T0, { key, now: T0, responseExpiresAt: T0 + 1, expiresAt: T0 + 10 }),
            outcome: resultOutcome('old'),
          }),
        );
      }
      const at = T0 + 10;
      const replacing = keys.map((key) =>
        store.insertCompleted({
          ...commitAt(at, { key, fingerprint: 'fingerprint-new', ...withTombstone(at) }),
          outcome: resultOutcome('new'),
        }),
      );
      const purges = Array.from({ length: 4 }, () => store.purge({ now: at, limit: 3 }));
      const [replaced] = await Promise.all([Promise.all(replacing), Promise.all(purges)]);
      expect(replaced.every((r) => r.status === 'committed')).toBe(true);
      for (const key of keys) {
        expect((await found(store, key, at)).outcome, key).toEqual(resultOutcome('new'));
      }
    });
  });
}
