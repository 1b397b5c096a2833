import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ClaimOptions, CommitOptions, IdempotencyStore } from '../store/store';
import {
  type ConformanceFixture,
  commitWriting,
  errorOutcome,
  resultOutcome,
  type SuiteContext,
  T0,
} from './conformance/fixture';
import { comparableRecord, createReferenceModel } from './referenceModel';

/** Random sequences of every primitive, against the reference model. */
export function describeModelCheck<TTx>(suite: SuiteContext<TTx>) {
  describe('against the reference model', () => {
    it('agrees on random sequences of claims, commits, fenced writes, expiry, tombstones and purge', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(actionArbitrary, { minLength: 10, maxLength: 40, size: 'max' }),
          (actions) => checkAgainstModel(suite.open, actions),
        ),
        { numRuns: suite.propertyRuns },
      );
    });
  });
}

type OwnerPick = { current: true } | { past: number };

/**
 * How a completing write ends its record: with a response only (`tombstoneMs`
 * 0: it expires with its TTL) or a tombstone that long after it (SPEC 3.7),
 * with or without a trace context.
 */
type Completion = { ttlMs: number; tombstoneMs: number; traced: boolean };

type Action =
  | { type: 'claim'; key: number; input: number; leaseMs: number; ttlMs: number }
  | ({ type: 'commit'; key: number; input: number; writes: boolean } & Completion)
  | ({ type: 'complete'; key: number; owner: OwnerPick; error: boolean } & Completion)
  | { type: 'release'; key: number; owner: OwnerPick }
  | { type: 'renew'; key: number; owner: OwnerPick; leaseMs: number; ttlMs: number }
  | { type: 'steps'; key: number; owner: OwnerPick; count: number }
  | { type: 'advance'; ms: number }
  | { type: 'purge'; limit: number | undefined };

const KEYS = ['model-key-0000-a', 'model-key-0000-b'];
// Two procedures and two inputs: a request may match the stored record or not.
const INPUTS = [
  { path: 'ledger.transfer', fingerprint: 'fingerprint-a' },
  { path: 'ledger.transfer', fingerprint: 'fingerprint-b' },
  { path: 'ledger.refund', fingerprint: 'fingerprint-a' },
];

const keyArbitrary = fc.integer({ min: 0, max: KEYS.length - 1 });
const inputArbitrary = fc.integer({ min: 0, max: INPUTS.length - 1 });
// Durations on a coarse grid of ticks, so leases and expiries often end exactly at `now`.
const TICK_MS = 25;
const durationArbitrary = (maxTicks: number) =>
  fc.integer({ min: 1, max: maxTicks }).map((ticks) => ticks * TICK_MS);
const tombstoneArbitrary = fc.oneof(fc.constant(0), durationArbitrary(6));
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
      input: inputArbitrary,
      leaseMs: durationArbitrary(4),
      ttlMs: durationArbitrary(8),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('commit' as const),
      key: keyArbitrary,
      input: inputArbitrary,
      ttlMs: durationArbitrary(8),
      tombstoneMs: tombstoneArbitrary,
      traced: fc.boolean(),
      writes: fc.boolean(),
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
      tombstoneMs: tombstoneArbitrary,
      traced: fc.boolean(),
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
      ttlMs: durationArbitrary(8),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('steps' as const),
      key: keyArbitrary,
      owner: ownerArbitrary,
      count: fc.integer({ min: 0, max: 3 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ type: fc.constant('advance' as const), ms: durationArbitrary(3) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('purge' as const),
      // Limits below, at and above how many rows are purgeable (two keys at most).
      limit: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    }),
  },
);

/** The instants (and trace) of a completing write at `now`. */
function completionAt(now: number, completion: Completion, step: number) {
  const responseExpiresAt = now + completion.ttlMs;
  return {
    now,
    ...(completion.tombstoneMs === 0
      ? { expiresAt: responseExpiresAt }
      : { expiresAt: responseExpiresAt + completion.tombstoneMs, responseExpiresAt }),
    ...(completion.traced && {
      traceContext: `00-${(step + 1).toString(16).padStart(32, '0')}-${'1'.padStart(16, '0')}-01`,
    }),
  };
}

/** Runs `actions` against a fresh store and the reference model, comparing every answer. */
async function checkAgainstModel<TTx>(
  open: () => Promise<ConformanceFixture<TTx> & AsyncDisposable>,
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
  // (which could share a store's mistake): per key, at most one live owner, and
  // a fenced write succeeds only for the owner holding the key.
  const holders = new Map<string, { owner: string; leaseExpiresAt: number }>();
  /** The key and owner an action picks for a fenced write. */
  const fencedBy = (action: { key: number; owner: OwnerPick }) => {
    const key = KEYS[action.key]!;
    return { scope, key, owner: ownerFor(key, action.owner) };
  };
  /** A fenced write on the store and the model: they must agree, and only the holder succeeds. */
  const fencedWrite = async <M extends 'complete' | 'release' | 'renewLease' | 'saveSteps'>(
    method: M,
    opts: Parameters<IdempotencyStore<TTx>[M]>[0],
    where: string,
  ) => {
    const written = await store[method](opts as never);
    expect(written, where).toBe(model[method](opts as never));
    if (written) {
      expect(
        holders.get(opts.key)?.owner,
        `${where}: a fenced write by a non-holder succeeded`,
      ).toBe(opts.owner);
    }
    return written;
  };

  for (const [step, action] of actions.entries()) {
    const where = `step ${step}: ${JSON.stringify(action)}`;
    switch (action.type) {
      case 'claim': {
        const owner = `model-owner-${step}`;
        owners.push(owner);
        const leaseExpiresAt = now + action.leaseMs;
        const claim: ClaimOptions = {
          scope,
          key: KEYS[action.key]!,
          ...INPUTS[action.input]!,
          owner,
          now,
          leaseExpiresAt,
          expiresAt: leaseExpiresAt + action.ttlMs,
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
          holders.set(claim.key, { owner, leaseExpiresAt });
        }
        break;
      }
      case 'commit': {
        const commit: CommitOptions = {
          scope,
          key: KEYS[action.key]!,
          ...INPUTS[action.input]!,
          owner: `model-committer-${step}`,
          ...completionAt(now, action, step),
          maxWaitMs: 1000,
        };
        const outcome = resultOutcome(step);
        const expected = model.commit(commit, outcome);
        const actual = action.writes
          ? await commitWriting(fixture, commit, step, () => step)
          : await store.insertCompleted({ ...commit, outcome });
        if (actual.status === 'found') {
          expect({ ...actual, record: comparableRecord(actual.record) }, where).toEqual({
            ...expected,
            record: 'record' in expected ? comparableRecord(expected.record) : undefined,
          });
        } else {
          expect(actual.status, where).toBe(expected.status);
          expect(actual.status === 'committed' && actual.outcome, where).toEqual(outcome);
          holders.delete(commit.key);
          if (action.writes) writes++;
        }
        break;
      }
      case 'complete': {
        const complete = {
          ...fencedBy(action),
          outcome: action.error ? errorOutcome : resultOutcome(step),
          ...completionAt(now, action, step),
        };
        if (await fencedWrite('complete', complete, where)) holders.delete(complete.key);
        break;
      }
      case 'release': {
        const release = fencedBy(action);
        if (await fencedWrite('release', release, where)) holders.delete(release.key);
        break;
      }
      case 'renew': {
        const leaseExpiresAt = now + action.leaseMs;
        const renew = {
          ...fencedBy(action),
          leaseExpiresAt,
          expiresAt: leaseExpiresAt + action.ttlMs,
        };
        if (await fencedWrite('renewLease', renew, where)) {
          holders.set(renew.key, { owner: renew.owner, leaseExpiresAt });
        }
        break;
      }
      case 'steps': {
        const steps = Array.from({ length: action.count }, (_, i) => ({
          name: `step-${i}`,
          body: i % 2 ? null : JSON.stringify({ at: step }),
        }));
        await fencedWrite('saveSteps', { ...fencedBy(action), steps }, where);
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
