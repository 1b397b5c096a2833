import { createHash } from 'node:crypto';
import { describe, expect } from 'vitest';
import { z } from 'zod';
import type { IdempotencyEvent } from '../src';
import {
  entries,
  gate,
  it,
  manualClock,
  newKey,
  type SqliteTestDatabase,
} from './helpers/sqliteApp';
import { callerOf, t, userIdempotent } from './helpers/trpc';

const LEASE_MS = 10_000;

/**
 * An owner that stops (crash, hang) is taken over after its lease,
 * and every write that completes or releases is fenced by ownership, so the
 * zombie cannot overwrite the new owner's outcome. Two stores on one file
 * stand for two processes; a manual clock stands for time passing.
 */
describe('lease mode', () => {
  function processOn(
    handle: { store: SqliteTestDatabase['store'] },
    clock: ReturnType<typeof manualClock>,
    behaviour: { waitFor?: Promise<void>; fail?: () => boolean; name: string },
  ) {
    const events: IdempotencyEvent[] = [];
    let executions = 0;
    const idempotent = userIdempotent({
      store: handle.store,
      mode: 'lease',
      leaseMs: LEASE_MS,
      clock: clock.now,
      inFlight: { timeoutMs: 0 },
      onEvent: (e) => events.push(e),
    });
    const caller = callerOf({
      charge: idempotent.input(z.object({ amount: z.number() })).mutation(async ({ ctx }) => {
        executions++;
        await behaviour.waitFor;
        if (behaviour.fail?.()) throw new Error('gateway unreachable');
        return { chargedBy: behaviour.name, attempt: ctx.idempotency.attempt };
      }),
    });
    return { caller, events, executions: () => executions };
  }

  it('takes over a crashed owner after its lease and refuses the zombie’s late completion', async ({
    database,
  }) => {
    const clock = manualClock();
    const hang = gate();
    const zombie = processOn(database, clock, { waitFor: hang.opened, name: 'zombie' });
    const rescuer = processOn(database.openSecond(), clock, { name: 'rescuer' });
    const idempotencyKey = newKey();

    const zombieCall = zombie.caller.charge({ idempotencyKey, amount: 5 }).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 10));

    // Within the lease the record is someone else's.
    await expect(rescuer.caller.charge({ idempotencyKey, amount: 5 })).rejects.toMatchObject({
      code: 'CONFLICT',
    });

    clock.advance(LEASE_MS + 1);
    const rescued = await rescuer.caller.charge({ idempotencyKey, amount: 5 });
    expect(rescued).toEqual({ chargedBy: 'rescuer', attempt: 2 });
    expect(rescuer.events.at(-1)).toMatchObject({ type: 'executed', takenOver: true, attempt: 2 });

    // The zombie wakes up and tries to complete: refused, told to retry.
    hang.open();
    expect(await zombieCall).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_IN_PROGRESS' });
    expect(zombie.events.at(-1)).toMatchObject({ type: 'fenced', attempt: 1 });

    // Its retry, like everyone's, gets the rescuer's outcome.
    expect(await zombie.caller.charge({ idempotencyKey, amount: 5 })).toEqual(rescued);
    expect(zombie.executions()).toBe(1);
    expect(rescuer.executions()).toBe(1);
  });

  it('does not let a zombie’s release after a failure delete the new owner’s record', async ({
    database,
  }) => {
    const clock = manualClock();
    const hang = gate();
    const zombie = processOn(database, clock, {
      waitFor: hang.opened,
      fail: () => true,
      name: 'zombie',
    });
    const rescuer = processOn(database.openSecond(), clock, { name: 'rescuer' });
    const idempotencyKey = newKey();
    const zombieCall = zombie.caller.charge({ idempotencyKey, amount: 1 }).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 10));
    clock.advance(LEASE_MS + 1);
    const rescued = await rescuer.caller.charge({ idempotencyKey, amount: 1 });
    hang.open();
    expect(await zombieCall).toMatchObject({ message: 'gateway unreachable' });
    expect(database.countRecords()).toBe(1);
    expect(await rescuer.caller.charge({ idempotencyKey, amount: 1 })).toEqual(rescued);
  });

  it('refuses a take-over by a request with other input', async ({ database }) => {
    const clock = manualClock();
    const hang = gate();
    const crashed = processOn(database, clock, { waitFor: hang.opened, name: 'crashed' });
    const other = processOn(database.openSecond(), clock, { name: 'other' });
    const idempotencyKey = newKey();
    const crashedCall = crashed.caller.charge({ idempotencyKey, amount: 1 }).catch(() => null);
    await new Promise((r) => setTimeout(r, 10));
    clock.advance(LEASE_MS + 1);
    await expect(other.caller.charge({ idempotencyKey, amount: 2 })).rejects.toMatchObject({
      code: 'UNPROCESSABLE_CONTENT',
    });
    hang.open();
    await crashedCall;
  });

  it('keeps the record while the owner renews its lease', async ({ database }) => {
    const clock = manualClock();
    const renewed = gate();
    const finish = gate();
    let executions = 0;
    const jobCaller = (store: typeof database.store, run: 'renew' | 'steal') => {
      const idempotent = userIdempotent({
        store,
        mode: 'lease',
        leaseMs: LEASE_MS,
        clock: clock.now,
        inFlight: { timeoutMs: 0 },
      });
      return callerOf({
        job: idempotent.mutation(async ({ ctx }) => {
          executions++;
          if (run === 'steal') return 'stolen';
          clock.advance(LEASE_MS - 1);
          await ctx.idempotency.renewLease();
          renewed.open();
          await finish.opened;
          return 'finished';
        }),
      });
    };
    const owner = jobCaller(database.store, 'renew');
    const other = jobCaller(database.openSecond().store, 'steal');
    const idempotencyKey = newKey();
    const job = owner.job({ idempotencyKey });
    await renewed.opened;
    clock.advance(LEASE_MS - 1);
    // The original lease has passed, the renewed one has not: no take-over.
    await expect(other.job({ idempotencyKey })).rejects.toMatchObject({ code: 'CONFLICT' });
    // Once the owner finishes, the other process replays its outcome.
    finish.open();
    expect(await job).toBe('finished');
    expect(await other.job({ idempotencyKey })).toBe('finished');
    expect(executions).toBe(1);
  });

  it('a zombie does not start its next step once its lease lapsed and another owner took over', async ({
    database,
  }) => {
    const clock = manualClock();
    const hang = gate();
    const effects: string[] = [];
    const ownerOn = (store: typeof database.store, name: string, waitFor?: Promise<void>) => {
      const events: IdempotencyEvent[] = [];
      const idempotent = userIdempotent({
        store,
        mode: 'lease',
        leaseMs: LEASE_MS,
        clock: clock.now,
        inFlight: { timeoutMs: 0 },
        onEvent: (event) => events.push(event),
      });
      const caller = callerOf({
        pay: idempotent.mutation(async ({ ctx }) => {
          await ctx.idempotency.step('reserve', () => effects.push(`${name} reserves`));
          await waitFor;
          await ctx.idempotency.step('charge', () => effects.push(`${name} charges`));
          return name;
        }),
      });
      return { caller, events };
    };
    const zombie = ownerOn(database.store, 'zombie', hang.opened);
    const rescuer = ownerOn(database.openSecond().store, 'rescuer');
    const idempotencyKey = newKey();

    const zombieCall = zombie.caller.pay({ idempotencyKey }).catch((error: Error) => error);
    await new Promise((r) => setTimeout(r, 10));
    clock.advance(LEASE_MS + 1);
    expect(await rescuer.caller.pay({ idempotencyKey })).toBe('rescuer');
    hang.open();
    expect(await zombieCall).toMatchObject({ code: 'CONFLICT' });
    expect(zombie.events).toMatchObject([{ type: 'fenced', attempt: 1 }]);
    // The zombie's charge never ran: one charge in all, the rescuer's.
    expect(effects).toEqual(['zombie reserves', 'rescuer charges']);
  });

  it('an owner past its lease that nobody took over renews before its next step, and completes', async ({
    database,
  }) => {
    const clock = manualClock();
    const effects: string[] = [];
    const idempotent = userIdempotent({
      store: database.store,
      mode: 'lease',
      leaseMs: LEASE_MS,
      clock: clock.now,
    });
    const caller = callerOf({
      pay: idempotent.mutation(async ({ ctx }) => {
        await ctx.idempotency.step('reserve', () => effects.push('reserve'));
        clock.advance(LEASE_MS + 1);
        await ctx.idempotency.step('charge', () => effects.push('charge'));
        return 'paid';
      }),
    });
    const idempotencyKey = newKey();
    expect(await caller.pay({ idempotencyKey })).toBe('paid');
    expect(effects).toEqual(['reserve', 'charge']);
    // Renewed: the record is completed, not open to a take-over.
    expect(await caller.pay({ idempotencyKey })).toBe('paid');
    expect(effects).toEqual(['reserve', 'charge']);
  });

  it('rejects renewLease once the lease was lost', async ({ database }) => {
    const clock = manualClock();
    const hang = gate();
    const idempotent = userIdempotent({
      store: database.store,
      mode: 'lease',
      leaseMs: LEASE_MS,
      clock: clock.now,
    });
    const slow = callerOf({
      charge: idempotent.input(z.object({ amount: z.number() })).mutation(async ({ ctx }) => {
        await hang.opened;
        await ctx.idempotency.renewLease();
        return 'never';
      }),
    });
    const rescuer = processOn(database.openSecond(), clock, { name: 'rescuer' });
    const idempotencyKey = newKey();
    const call = slow.charge({ idempotencyKey, amount: 1 }).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 10));
    clock.advance(LEASE_MS + 1);
    await rescuer.caller.charge({ idempotencyKey, amount: 1 });
    hang.open();
    expect(await call).toMatchObject({ code: 'CONFLICT' });
  });

  it('transactional mode has nothing to take over: a stalled first execution replays the retry’s commit', async ({
    database,
  }) => {
    const hang = gate();
    const makeCaller = (store: typeof database.store, waitFor?: Promise<void>) => {
      const idempotent = userIdempotent({ store });
      return callerOf({
        pay: idempotent.mutation(async ({ ctx }) => {
          await waitFor;
          return ctx.idempotency.commit((tx) => {
            const row = tx.insert(entries).values({ label: 'pay', amount: 1 }).returning().get();
            return { entry: row.id, attempt: ctx.idempotency.attempt };
          });
        }),
      });
    };
    const stalled = makeCaller(database.store, hang.opened);
    const retrying = makeCaller(database.openSecond().store);
    const idempotencyKey = newKey();
    const stalledCall = stalled.pay({ idempotencyKey });
    await new Promise((r) => setTimeout(r, 10));
    // Nothing was written for the stalled execution: the retry executes at once.
    expect(database.countRecords()).toBe(0);
    const retried = await retrying.pay({ idempotencyKey });
    expect(retried).toEqual({ entry: 1, attempt: 1 });
    hang.open();
    expect(await stalledCall).toEqual(retried);
    expect(database.countEntries()).toBe(1);
  });

  it('derives stable downstream keys per scope, key and namespace', async ({ database }) => {
    const idempotent = userIdempotent({
      store: database.store,
      mode: 'lease',
    });
    const router = t.router({
      keys: idempotent.input(z.object({ n: z.number() })).mutation(({ ctx }) => ({
        stripe: ctx.idempotency.downstreamKey('stripe'),
        email: ctx.idempotency.downstreamKey('email'),
      })),
    });
    const factory = t.createCallerFactory(router);
    const key = newKey();
    const a = await factory({ user: 'a' }).keys({ idempotencyKey: key, n: 1 });
    const b = await factory({ user: 'b' }).keys({ idempotencyKey: key, n: 1 });
    const again = await factory({ user: 'a' }).keys({ idempotencyKey: newKey(), n: 1 });
    expect(a.stripe).not.toBe(a.email);
    expect(a.stripe).not.toBe(b.stripe);
    expect(a.stripe).not.toBe(again.stripe);
    expect(a.stripe).not.toContain(key);
    expect(a.stripe).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Tenants whose names differ only in ill-formed UTF-16 never share a downstream key.
    const downstream = await Promise.all(
      ['acme\ud800', 'acme\udbff', 'acme\ufffd'].map((user) =>
        factory({ user }).keys({ idempotencyKey: key, n: 1 }),
      ),
    );
    expect(new Set(downstream.map((keys) => keys.stripe)).size).toBe(3);
    // A well-formed scope keeps the key it always had.
    expect(a.stripe).toBe(
      createHash('sha256').update(`a\u0000${key}\u0000stripe`).digest('base64url'),
    );
  });
});
