import { describe, it } from 'vitest';
import { describeClaim } from './conformance/claim';
import { describeCommit } from './conformance/commit';
import { describeExecution } from './conformance/execution';
import { describeFencedWrites } from './conformance/fenced';
import type { ConformanceFixture, SuiteContext } from './conformance/fixture';
import { describePurge } from './conformance/purge';
import { describeTombstones } from './conformance/tombstones';
import { describeModelCheck } from './modelCheck';

export type { ConformanceFixture, ConformanceWriteProbe } from './conformance/fixture';

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
  /** Requests racing for one key in the concurrency tests. Default 50. */
  concurrency?: number;
  /** Expired records in the batch purge test. Default 5000. */
  purgeRecords?: number;
  /** Runs of the model-based property test. Default 100. */
  propertyRuns?: number;
}

/**
 * Registers the store conformance suite with vitest: every store must pass it
 * unchanged. Most cases drive the store's primitives directly with explicit
 * instants, so no test waits for a clock; the last part runs requests through
 * `idempotentProcedure` on the store, so the engine's guarantees (a retry
 * never told its key was reused by an in-flight mistake, a crashed execution
 * taken over only with its own input) hold on it too.
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
  /** A fixture for one test; `await using` cleans it up. */
  const open = async () => {
    const fixture = await opts.createStore();
    return { ...fixture, [Symbol.asyncDispose]: async () => fixture.cleanup?.() };
  };
  const suite: SuiteContext<TTx> = {
    open,
    it: it.extend<{ fixture: ConformanceFixture<TTx> }>({
      // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this pattern, and this one has none
      fixture: async ({}, use) => {
        await using fixture = await open();
        await use(fixture);
      },
    }),
    concurrency: opts.concurrency ?? 50,
    purgeRecords: opts.purgeRecords ?? 5000,
    propertyRuns: opts.propertyRuns ?? 100,
  };
  describe(`${opts.name}: IdempotencyStore conformance`, () => {
    describeCommit(suite);
    describeClaim(suite);
    describeFencedWrites(suite);
    describePurge(suite);
    describeTombstones(suite);
    describeModelCheck(suite);
    describeExecution(suite);
  });
}
