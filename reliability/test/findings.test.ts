import { initTRPC } from '@trpc/server';
import { idempotentProcedure } from 'trpc-idempotency';
import { describe, expect, it } from 'vitest';
import {
  gate,
  manualClock,
  newKey,
  sqliteTestDatabase,
} from '../../packages/trpc-idempotency/test/helpers/sqliteApp';
import { sleep } from '../src/pool';
import { readRecords } from '../src/records';

const t = initTRPC.context<{ user: string }>().create();
const chargeInput = (raw: unknown) => raw as { idempotencyKey: string; amount: number };

/**
 * Library findings of the reliability suite, each a failing test of the
 * documented behaviour (marked `it.fails` until fixed: when a fix lands, the
 * test passes, `it.fails` reports it, and the marker comes off). See
 * docs/RELIABILITY.md, "Findings".
 */
describe('findings in the library', () => {
  /**
   * F1. A claim replaces an in-progress record once its `expiresAt` has passed,
   * even while its lease is live (sqlite/store.ts and pg/store.ts claim
   * `setWhere`, and the reference model's claim, all take `expiresAt <= now`
   * alone). The executor claims with `expiresAt = now + ttlMs` and
   * `leaseExpiresAt = now + leaseMs`, and the builder accepts `ttlMs < leaseMs`,
   * so a duplicate arriving after the TTL but within the lease becomes a
   * second owner (attempt 1) and runs the handler while the first still does.
   * In lease mode that is a second external effect. Purge, by contrast,
   * refuses to delete exactly such a record ("never a live lease").
   * Fixed: claims replace only what purge may delete (expired and not held by
   * a live lease), and the executor claims with expiresAt = now + max(ttlMs,
   * leaseMs); the shared store conformance suite covers the store side.
   */
  it('F1: with ttlMs < leaseMs, a duplicate after the TTL must not run while the first owner holds its lease', async () => {
    using database = sqliteTestDatabase();
    const clock = manualClock();
    const hold = gate();
    let executions = 0;
    const processOn = (store: typeof database.store) => {
      const idempotent = idempotentProcedure({
        procedure: t.procedure,
        store,
        scope: ({ ctx }) => ctx.user,
        mode: 'lease',
        ttlMs: 1000,
        leaseMs: 10_000,
        clock: clock.now,
        inFlight: { timeoutMs: 0 },
      });
      const router = t.router({
        charge: idempotent.input(chargeInput).mutation(async () => {
          executions++;
          if (executions === 1) await hold.opened;
          return { execution: executions };
        }),
      });
      return t.createCallerFactory(router)({ user: 'u' });
    };
    let first: ReturnType<typeof processOn>;
    let second: ReturnType<typeof processOn>;
    try {
      first = processOn(database.store);
      second = processOn(database.openSecond().store);
    } catch (error) {
      // Refusing ttlMs < leaseMs up front is a fix too.
      expect(error).toBeInstanceOf(RangeError);
      return;
    }
    const idempotencyKey = newKey();
    const running = first.charge({ idempotencyKey, amount: 1 });
    try {
      await sleep(20);
      clock.advance(2000); // past the TTL, well within the lease
      // The first owner still holds its lease: the duplicate must wait (409), not run.
      await expect(second.charge({ idempotencyKey, amount: 1 })).rejects.toMatchObject({
        code: 'CONFLICT',
      });
      expect(executions).toBe(1);
    } finally {
      hold.open();
      await running.catch(() => {});
    }
    expect(readRecords(database.file)).toMatchObject([{ attempt: 1, state: 'completed' }]);
  });
});
