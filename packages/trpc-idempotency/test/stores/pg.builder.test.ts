import { setTimeout as sleep } from 'node:timers/promises';
import { initTRPC, TRPCError } from '@trpc/server';
import { sql } from 'drizzle-orm';
import { integer, PgDatabase, pgTable, serial, text } from 'drizzle-orm/pg-core';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import {
  getIdempotencyErrorData,
  type IdempotencyEvent,
  type IdempotentProcedureOptions,
  idempotentProcedure,
} from '../../src';
import {
  idempotencyRecords,
  type PgIdempotencyStoreOptions,
  pgIdempotencyStore,
} from '../../src/pg';
import { gate, manualClock, newKey } from '../helpers/sqliteApp';
import { type PgTestDb, usePostgresDatabase } from './postgres';

type Ctx = { user: string };
const t = initTRPC.context<Ctx>().create();

const entries = pgTable('entries', {
  id: serial('id').primaryKey(),
  label: text('label').notNull(),
  amount: integer('amount').notNull(),
});

const postgres = usePostgresDatabase();
let admin: PgTestDb;

beforeAll(async () => {
  admin = postgres.connect({ max: 2 });
  await admin.execute(
    sql`CREATE TABLE entries (id serial PRIMARY KEY, label text NOT NULL, amount integer NOT NULL)`,
  );
});

beforeEach(async () => {
  await admin.execute(sql`TRUNCATE entries, idempotency_records`);
});

type BuilderOptions = Partial<
  Omit<IdempotentProcedureOptions<unknown, Ctx, never, 'transactional'>, 'procedure' | 'store'>
>;

interface Hooks {
  /** Awaited by the handler before its commit: hold an execution here. */
  prepare?: (label: string) => Promise<void>;
  /** Runs inside the commit after the write: throw to fail it. */
  insideCommit?: (label: string) => void;
}

/**
 * A server process: its own pool, store and builder, so it has its own
 * in-process join map too. `record` is transactional, `notify` lease mode.
 */
function openProcess(
  opts: {
    hooks?: Hooks;
    store?: Omit<PgIdempotencyStoreOptions<PgTestDb>, 'db'>;
    builder?: BuilderOptions;
  } = {},
) {
  const db = postgres.connect();
  const store = pgIdempotencyStore({ db, ...opts.store });
  const events: IdempotencyEvent[] = [];
  let executions = 0;
  const builderOptions = {
    procedure: t.procedure,
    store,
    scope: ({ ctx }: { ctx: Ctx }) => ctx.user,
    onEvent: (event: IdempotencyEvent) => events.push(event),
    ...opts.builder,
  };
  const transactional = idempotentProcedure(builderOptions);
  const lease = idempotentProcedure({ ...builderOptions, mode: 'lease' });
  const input = z.object({ label: z.string(), amount: z.number().int() });
  const router = t.router({
    record: transactional.input(input).mutation(async ({ input, ctx }) => {
      executions++;
      await opts.hooks?.prepare?.(input.label);
      return ctx.idempotency.commit(async (tx) => {
        const [row] = await tx.insert(entries).values(input).returning();
        opts.hooks?.insideCommit?.(input.label);
        return { id: row!.id, label: row!.label, amount: row!.amount };
      });
    }),
    notify: lease.input(input).mutation(async ({ input, ctx }) => {
      executions++;
      await opts.hooks?.prepare?.(input.label);
      return { sentBy: input.label, attempt: ctx.idempotency.attempt };
    }),
  });
  return {
    store,
    events,
    executions: () => executions,
    caller: t.createCallerFactory(router)({ user: 'alice' }),
    [Symbol.asyncDispose]: () => db.$client.end(),
  };
}

const countEntries = () => admin.$count(entries);

/** Waits until `count` sessions of this database wait on a lock (a key's unique index). */
async function lockWaiters(count: number) {
  const deadline = performance.now() + 5000;
  for (;;) {
    const { rows } = await admin.execute<{ waiting: number }>(
      sql`SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    if (rows[0]!.waiting >= count) return;
    if (performance.now() > deadline)
      throw new Error(`expected ${count} sessions waiting on a lock`);
    await sleep(5);
  }
}

/** Resolves once a handler reached its `prepare` hook, and holds it until `release.open()`. */
function holdPoint() {
  const entered = gate();
  const release = gate();
  return {
    entered: entered.opened,
    release: release.open,
    prepare: async () => {
      entered.open();
      await release.opened;
    },
  };
}

describe('pgIdempotencyStore through idempotentProcedure (SPEC 5.3)', () => {
  it('transactional: 20 concurrent calls in two processes write once and answer alike', async () => {
    const slow = { prepare: () => sleep(50) };
    await using a = openProcess({ hooks: slow });
    await using b = openProcess({ hooks: slow });
    const idempotencyKey = newKey();
    const call = (process: typeof a) =>
      process.caller.record({ idempotencyKey, label: 'rent', amount: 100 });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => call(i % 2 === 0 ? a : b)),
    );
    expect(a.executions() + b.executions()).toBe(1);
    expect(await countEntries()).toBe(1);
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
    const events = [...a.events, ...b.events].map((e) => e.type).sort();
    // The other process's first call waited on the key's index, then replayed; the rest joined.
    expect(events).toEqual(['executed', 'replayed', ...Array(18).fill('joined')].sort());
  });

  it('a duplicate in another process blocks on the unique index, then replays the commit', async () => {
    const hold = holdPoint();
    await using a = openProcess({ hooks: { prepare: hold.prepare } });
    await using b = openProcess();
    const idempotencyKey = newKey();
    const first = a.caller.record({ idempotencyKey, label: 'rent', amount: 100 });
    await hold.entered;
    let duplicateSettled = false;
    const duplicate = b.caller
      .record({ idempotencyKey, label: 'rent', amount: 100 })
      .finally(() => {
        duplicateSettled = true;
      });
    await lockWaiters(1);
    expect(duplicateSettled).toBe(false);
    // Nothing is committed yet: the record is invisible outside the first transaction.
    const invisible = await b.store.find({ scope: 'alice', key: idempotencyKey, now: Date.now() });
    expect(invisible).toBeUndefined();
    hold.release();
    const [firstResult, duplicateResult] = await Promise.all([first, duplicate]);
    expect(duplicateResult).toEqual(firstResult);
    expect(b.executions()).toBe(0);
    expect(b.events.map((e) => e.type)).toEqual(['replayed']);
    expect(await countEntries()).toBe(1);
  });

  it('when the first rolls back (transient error), the blocked duplicate executes', async () => {
    const hold = holdPoint();
    await using a = openProcess({
      hooks: {
        prepare: hold.prepare,
        insideCommit: () => {
          throw new Error('connection reset');
        },
      },
    });
    await using b = openProcess();
    const idempotencyKey = newKey();
    const first = a.caller
      .record({ idempotencyKey, label: 'rent', amount: 100 })
      .catch((e: Error) => e);
    await hold.entered;
    const duplicate = b.caller.record({ idempotencyKey, label: 'rent', amount: 100 });
    await lockWaiters(1);
    hold.release();
    expect(await first).toMatchObject({ message: 'connection reset' });
    const result = await duplicate;
    expect(b.events.map((e) => e.type)).toEqual(['executed']);
    // Only the duplicate's row: the first's write was rolled back with its record.
    expect(await admin.select().from(entries)).toEqual([
      { id: result.id, label: 'rent', amount: 100 },
    ]);
    expect(await b.caller.record({ idempotencyKey, label: 'rent', amount: 100 })).toEqual(result);
  });

  it('answers CONFLICT (in progress) when the lock wait times out', async () => {
    const hold = holdPoint();
    await using a = openProcess({ hooks: { prepare: hold.prepare } });
    await using b = openProcess({
      store: { lockTimeoutMs: 2000 },
      builder: { inFlight: { timeoutMs: 50, retryAfterMs: 500 } },
    });
    const idempotencyKey = newKey();
    const first = a.caller.record({ idempotencyKey, label: 'rent', amount: 100 });
    await hold.entered;
    const startedAt = performance.now();
    let error: unknown;
    try {
      error = await b.caller
        .record({ idempotencyKey, label: 'rent', amount: 100 })
        .catch((e: unknown) => e);
    } finally {
      hold.release();
    }
    const waitedMs = performance.now() - startedAt;
    expect(error).toBeInstanceOf(TRPCError);
    expect(error).toMatchObject({ code: 'CONFLICT' });
    expect(getIdempotencyErrorData(error)).toEqual({
      reason: 'IDEMPOTENCY_IN_PROGRESS',
      retryAfterMs: 500,
    });
    // The lock wait is bounded by the request's own wait bound (50 ms), not the
    // store's much longer lockTimeoutMs (2 s).
    expect(waitedMs).toBeGreaterThanOrEqual(30);
    expect(waitedMs).toBeLessThan(1000);
    // The timed-out duplicate rolled back alone: the first is unharmed and commits.
    const result = await first;
    expect(await b.caller.record({ idempotencyKey, label: 'rent', amount: 100 })).toEqual(result);
    expect(b.executions()).toBe(0);
    expect(await countEntries()).toBe(1);
  });

  it('keeps waiting across lock timeouts within its wait bound, in the same transaction', async () => {
    const hold = holdPoint();
    await using a = openProcess({ hooks: { prepare: hold.prepare } });
    await using b = openProcess({
      store: { lockTimeoutMs: 50 },
      builder: { inFlight: { timeoutMs: 5000 } },
    });
    const idempotencyKey = newKey();
    const first = a.caller.record({ idempotencyKey, label: 'rent', amount: 100 });
    await hold.entered;
    const duplicate = b.caller.record({ idempotencyKey, label: 'rent', amount: 100 });
    // Several lock timeouts pass; each rolls back to the claim's savepoint, and the claim retries.
    await sleep(250);
    hold.release();
    expect(await duplicate).toEqual(await first);
    expect(b.events.map((e) => e.type)).toEqual(['replayed']);
    expect(await countEntries()).toBe(1);
  });

  it('a final error inside commit rolls back the writes, stores the error and replays it', async () => {
    await using a = openProcess({
      hooks: {
        insideCommit: () => {
          throw new TRPCError({ code: 'PRECONDITION_FAILED', message: 'insufficient funds' });
        },
      },
    });
    await using b = openProcess();
    const idempotencyKey = newKey();
    const call = (process: typeof a) =>
      process.caller.record({ idempotencyKey, label: 'rent', amount: 100 }).catch((e) => e);
    const first = await call(a);
    expect(first).toMatchObject({ code: 'PRECONDITION_FAILED', message: 'insufficient funds' });
    expect(await countEntries()).toBe(0);
    const record = await a.store.find({ scope: 'alice', key: idempotencyKey, now: Date.now() });
    expect(record).toMatchObject({ state: 'completed', outcome: { kind: 'error' } });
    for (const process of [a, b]) {
      expect(await call(process)).toMatchObject({
        code: 'PRECONDITION_FAILED',
        message: 'insufficient funds',
      });
    }
    expect(a.executions() + b.executions()).toBe(1);
    expect(b.events.map((e) => e.type)).toEqual(['replayed']);
    expect(await countEntries()).toBe(0);
  });

  it('lease mode: a takeover after the lease expired fences the old owner out', async () => {
    const clock = manualClock();
    const hold = holdPoint();
    const builder = { clock: clock.now, leaseMs: 1000 };
    await using a = openProcess({ hooks: { prepare: hold.prepare }, builder });
    await using b = openProcess({ builder: { ...builder, inFlight: { timeoutMs: 50 } } });
    const idempotencyKey = newKey();
    const zombie = a.caller
      .notify({ idempotencyKey, label: 'a', amount: 1 })
      .catch((e: unknown) => e);
    await hold.entered;
    // In lease mode the in-progress record is committed: others see it, and wait.
    await expect(b.caller.notify({ idempotencyKey, label: 'a', amount: 1 })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    clock.advance(1000);
    // Same input (the label is part of it); the result says which process answered.
    const takenOver = await b.caller.notify({ idempotencyKey, label: 'a', amount: 1 });
    expect(takenOver).toEqual({ sentBy: 'a', attempt: 2 });
    hold.release();
    const fenced = await zombie;
    expect(getIdempotencyErrorData(fenced)).toMatchObject({ reason: 'IDEMPOTENCY_IN_PROGRESS' });
    expect(a.events.map((e) => e.type)).toEqual(['fenced']);
    const record = await a.store.find({ scope: 'alice', key: idempotencyKey, now: clock.now() });
    expect(record).toMatchObject({ state: 'completed', attempt: 2 });
    expect(await a.caller.notify({ idempotencyKey, label: 'a', amount: 1 })).toEqual(takenOver);
  });

  it('a reader never sees a handler’s writes without their completed record', async () => {
    await using a = openProcess({
      hooks: {
        prepare: () => sleep(Math.random() * 5),
        insideCommit: (label) => {
          if (label.endsWith('0')) throw new Error('transient');
        },
      },
    });
    const observations: { entries: number; completed: number }[] = [];
    const observe = async () => {
      // One statement, so one snapshot for both counts.
      const { rows } = await admin.execute<{ entries: number; completed: number }>(
        sql`SELECT (SELECT count(*)::int FROM entries) AS entries, (SELECT count(*)::int FROM idempotency_records WHERE state = 'completed') AS completed`,
      );
      observations.push(rows[0]!);
    };
    let running = true;
    const observing = (async () => {
      while (running) await observe();
    })();
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        a.caller
          .record({ idempotencyKey: newKey(), label: `entry-${i}`, amount: i })
          .catch(() => undefined),
      ),
    );
    running = false;
    await observing;
    await observe();
    expect(observations.length).toBeGreaterThan(1);
    for (const seen of observations) expect(seen.entries).toBe(seen.completed);
    expect(observations.at(-1)).toEqual({ entries: 36, completed: 36 });
  });

  it('replays a committed key with one read: no transaction, no claim', async () => {
    await using a = openProcess({
      hooks: {
        insideCommit: (label) => {
          if (label === 'broke') {
            throw new TRPCError({ code: 'PRECONDITION_FAILED', message: 'insufficient funds' });
          }
        },
      },
    });
    await using b = openProcess();
    const transactions = [vi.spyOn(a.store, 'inTransaction'), vi.spyOn(b.store, 'inTransaction')];
    const claims = [vi.spyOn(a.store, 'claim'), vi.spyOn(b.store, 'claim')];
    const idempotencyKey = newKey();
    const result = await a.caller.record({ idempotencyKey, label: 'rent', amount: 100 });
    const failedKey = newKey();
    await expect(
      a.caller.record({ idempotencyKey: failedKey, label: 'broke', amount: 1 }),
    ).rejects.toThrow('insufficient funds');
    expect(transactions[0]).toHaveBeenCalledTimes(2);
    for (const process of [a, b]) {
      expect(await process.caller.record({ idempotencyKey, label: 'rent', amount: 100 })).toEqual(
        result,
      );
      await expect(
        process.caller.record({ idempotencyKey: failedKey, label: 'broke', amount: 1 }),
      ).rejects.toMatchObject({ code: 'PRECONDITION_FAILED', message: 'insufficient funds' });
      // A key reused with other input: 422, from the same read.
      await expect(
        process.caller.record({ idempotencyKey, label: 'rent', amount: 101 }),
      ).rejects.toMatchObject({ code: 'UNPROCESSABLE_CONTENT' });
    }
    expect(transactions[0]).toHaveBeenCalledTimes(2);
    expect(transactions[1]).not.toHaveBeenCalled();
    expect(claims[1]).not.toHaveBeenCalled();
    expect(b.events.map((e) => e.type)).toEqual(['replayed', 'replayed', 'mismatch']);
    expect(b.events[0]).toMatchObject({ outcome: 'result', waitedMs: 0, path: 'record' });
    expect(b.events[1]).toMatchObject({ outcome: 'error', waitedMs: 0 });
    expect(a.executions() + b.executions()).toBe(2);
    expect(await countEntries()).toBe(1);
  });

  it('builds no statement after the store: every path runs the statements built once', async () => {
    await using a = openProcess({
      hooks: {
        insideCommit: (label) => {
          if (label === 'broke') {
            throw new TRPCError({ code: 'PRECONDITION_FAILED', message: 'insufficient funds' });
          }
          if (label === 'transient') throw new Error('connection reset');
        },
      },
      builder: { ttlMs: 1000 },
    });
    // Any query builder on the records table, on the pool or in a transaction.
    const builders = (['insert', 'update', 'delete', 'select'] as const).map((method) =>
      vi.spyOn(PgDatabase.prototype, method),
    );
    const onRecords = () =>
      builders.flatMap((builder) =>
        builder.mock.calls.filter(([table]) => table === idempotencyRecords || table === undefined),
      );
    try {
      const idempotencyKey = newKey();
      await a.caller.record({ idempotencyKey, label: 'rent', amount: 1 }); // claim, commit
      await a.caller.record({ idempotencyKey, label: 'rent', amount: 1 }); // replay
      await expect(
        a.caller.record({ idempotencyKey: newKey(), label: 'broke', amount: 1 }),
      ).rejects.toThrow('insufficient funds'); // final error inside commit
      await expect(
        a.caller.record({ idempotencyKey: newKey(), label: 'transient', amount: 1 }),
      ).rejects.toThrow('connection reset'); // release and rollback
      await a.caller.notify({ idempotencyKey: newKey(), label: 'lease', amount: 1 }); // complete
      // The store's own commit, outside inTransaction.
      const now = Date.now();
      const claim = await a.store.claim({
        scope: 'alice',
        key: newKey(),
        path: 'direct',
        fingerprint: 'f',
        owner: 'direct-owner',
        now,
        leaseExpiresAt: now + 1000,
        expiresAt: now + 1000,
        maxWaitMs: 1000,
      });
      await a.store.renewLease({ ...claim.record, leaseExpiresAt: now + 2000 });
      await a.store.commit(
        { ...claim.record, now, expiresAt: now + 1000 },
        async () => 'done',
        (value) => ({ kind: 'result', body: JSON.stringify(value) }),
      );
      await a.store.purge({ now: now + 60_000, limit: 10 });
      expect(onRecords()).toEqual([]);
      // The spies do see builders in transactions: the handler's own inserts.
      expect(builders[0]!.mock.calls.filter(([table]) => table === entries)).toHaveLength(3);
    } finally {
      for (const builder of builders) builder.mockRestore();
    }
  });
});
