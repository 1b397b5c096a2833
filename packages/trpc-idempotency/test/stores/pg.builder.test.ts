import { setTimeout as sleep } from 'node:timers/promises';
import { TRPCError } from '@trpc/server';
import { sql } from 'drizzle-orm';
import { integer, PgDatabase, pgTable, serial, text } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { getIdempotencyErrorData, type IdempotencyEvent } from '../../src';
import {
  idempotencyRecords,
  type PgIdempotencyStoreOptions,
  pgIdempotencyStore,
} from '../../src/pg';
import { fingerprintInput } from '../../src/server/fingerprint';
import { insufficientFunds } from '../helpers/ledgerApp';
import { gate, manualClock, newKey } from '../helpers/sqliteApp';
import { t, type UserIdempotentOptions, userIdempotent } from '../helpers/trpc';
import { type PgTestDb, usePostgresDatabase } from './postgres';

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
  Omit<UserIdempotentOptions<ReturnType<typeof pgIdempotencyStore<PgTestDb>>>, 'store' | 'mode'>
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
    store,
    onEvent: (event: IdempotencyEvent) => events.push(event),
    ...opts.builder,
  };
  const transactional = userIdempotent(builderOptions);
  const lease = userIdempotent({ ...builderOptions, mode: 'lease' });
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

/** An `insideCommit` hook: `broke` fails with a final error, `transient` with a transient one. */
function failByLabel(label: string) {
  if (label === 'broke') throw insufficientFunds();
  if (label === 'transient') throw new Error('connection reset');
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

/**
 * Another execution of `idempotencyKey` at its commit: a transaction on its own
 * connection that inserted the completed record and has not committed yet.
 */
async function uncommittedRecord(idempotencyKey: string, body: unknown) {
  const client = await admin.$client.connect();
  await client.query('BEGIN');
  const now = Date.now();
  await client.query(
    `INSERT INTO idempotency_records (scope, key, path, fingerprint, state, owner, attempt, lease_expires_at_ms, expires_at_ms, created_at_ms, completed_at_ms, outcome_kind, response)
     VALUES ('alice', $1, 'record', $2, 'completed', 'elsewhere', 1, $3, $4, $3, $3, 'result', $5)`,
    [
      idempotencyKey,
      fingerprintInput({ label: 'rent', amount: 100 }),
      now,
      now + 60_000,
      JSON.stringify(body),
    ],
  );
  return {
    commit: async () => {
      await client.query('COMMIT');
      client.release();
    },
    rollback: async () => {
      await client.query('ROLLBACK');
      client.release();
    },
  };
}

describe('pgIdempotencyStore through idempotentProcedure', () => {
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
    // Each process's first call may run its preparation; only one commits.
    expect(a.executions() + b.executions()).toBeLessThanOrEqual(2);
    expect(await countEntries()).toBe(1);
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
    const events = [...a.events, ...b.events].map((e) => e.type).sort();
    // The other process's first call was settled at its commit, then replayed; the rest joined.
    expect(events).toEqual(['executed', 'replayed', ...Array(18).fill('joined')].sort());
  });

  it('a duplicate blocks on the unique index at its commit, then replays what committed first', async () => {
    await using b = openProcess();
    const idempotencyKey = newKey();
    const first = await uncommittedRecord(idempotencyKey, { id: 77, label: 'rent', amount: 100 });
    let duplicateSettled = false;
    const duplicate = b.caller
      .record({ idempotencyKey, label: 'rent', amount: 100 })
      .finally(() => {
        duplicateSettled = true;
      });
    await lockWaiters(1);
    expect(duplicateSettled).toBe(false);
    await first.commit();
    expect(await duplicate).toEqual({ id: 77, label: 'rent', amount: 100 });
    expect(b.events.map((e) => e.type)).toEqual(['replayed']);
    // Its own write was rolled back with its record.
    expect(await countEntries()).toBe(0);
  });

  it('when the first rolls back, the blocked duplicate commits', async () => {
    await using b = openProcess();
    const idempotencyKey = newKey();
    const first = await uncommittedRecord(idempotencyKey, { id: 77 });
    const duplicate = b.caller.record({ idempotencyKey, label: 'rent', amount: 100 });
    await lockWaiters(1);
    await first.rollback();
    const result = await duplicate;
    expect(b.events.map((e) => e.type)).toEqual(['executed']);
    expect(await admin.select().from(entries)).toEqual([
      { id: result.id, label: 'rent', amount: 100 },
    ]);
    expect(await b.caller.record({ idempotencyKey, label: 'rent', amount: 100 })).toEqual(result);
  });

  it.each([
    ['the request’s wait bound', { lockTimeoutMs: 2000 }, { timeoutMs: 50, retryAfterMs: 500 }],
    ['the store’s lockTimeoutMs', { lockTimeoutMs: 50 }, { timeoutMs: 5000, retryAfterMs: 500 }],
  ])(
    'answers CONFLICT (in progress) when the lock wait passes %s',
    async (_bound, store, inFlight) => {
      await using b = openProcess({ store, builder: { inFlight } });
      const idempotencyKey = newKey();
      const first = await uncommittedRecord(idempotencyKey, { id: 77 });
      const startedAt = performance.now();
      let error: unknown;
      try {
        error = await b.caller
          .record({ idempotencyKey, label: 'rent', amount: 100 })
          .catch((e: unknown) => e);
      } finally {
        await first.rollback();
      }
      const waitedMs = performance.now() - startedAt;
      expect(error).toBeInstanceOf(TRPCError);
      expect(error).toMatchObject({ code: 'CONFLICT' });
      expect(getIdempotencyErrorData(error)).toEqual({
        reason: 'IDEMPOTENCY_IN_PROGRESS',
        retryAfterMs: 500,
        horizonMs: 30 * 24 * 60 * 60 * 1000,
      });
      expect(waitedMs).toBeGreaterThanOrEqual(30);
      expect(waitedMs).toBeLessThan(1500);
      expect(b.events.map((e) => e.type)).toEqual(['conflict']);
      // It rolled back alone; the key is free and its retry commits.
      await b.caller.record({ idempotencyKey, label: 'rent', amount: 100 });
      expect(await countEntries()).toBe(1);
    },
  );

  it('a final error inside commit rolls back the writes, stores the error and replays it', async () => {
    await using a = openProcess({
      hooks: {
        insideCommit: () => {
          throw insufficientFunds();
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

  it('a deferred constraint of the handler’s tables failing at COMMIT is a failure, not the key taken', async () => {
    await admin.execute(
      sql`ALTER TABLE entries ADD CONSTRAINT entries_label_once UNIQUE (label) DEFERRABLE INITIALLY DEFERRED`,
    );
    try {
      await using a = openProcess();
      await a.caller.record({ idempotencyKey: newKey(), label: 'rent', amount: 1 });
      const idempotencyKey = newKey();
      const failed = await a.caller
        .record({ idempotencyKey, label: 'rent', amount: 2 })
        .catch((e: unknown) => e);
      // Not CONFLICT (in progress): that would send the client retrying a key nobody holds.
      expect(failed).toBeInstanceOf(TRPCError);
      expect(failed).toMatchObject({ code: 'INTERNAL_SERVER_ERROR' });
      expect(await a.store.find({ scope: 'alice', key: idempotencyKey, now: Date.now() })).toBe(
        undefined,
      );
      expect(await countEntries()).toBe(1);
      // Nothing was stored: the same key executes once the data allows it.
      expect(await a.caller.record({ idempotencyKey, label: 'rates', amount: 2 })).toMatchObject({
        label: 'rates',
      });
    } finally {
      await admin.execute(sql`ALTER TABLE entries DROP CONSTRAINT entries_label_once`);
    }
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
    await using a = openProcess({ hooks: { insideCommit: failByLabel } });
    await using b = openProcess();
    const writes = (['commit', 'insertCompleted', 'claim'] as const).flatMap((method) => [
      vi.spyOn(a.store, method),
      vi.spyOn(b.store, method),
    ]);
    const idempotencyKey = newKey();
    const result = await a.caller.record({ idempotencyKey, label: 'rent', amount: 100 });
    const failedKey = newKey();
    await expect(
      a.caller.record({ idempotencyKey: failedKey, label: 'broke', amount: 1 }),
    ).rejects.toThrow('insufficient funds');
    const writesAfterExecutions = writes.map((spy) => spy.mock.calls.length);
    // commit ×2 (one rolled back by the final error), insertCompleted ×1 (that error).
    expect(writesAfterExecutions).toEqual([2, 0, 1, 0, 0, 0]);
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
    expect(writes.map((spy) => spy.mock.calls.length)).toEqual(writesAfterExecutions);
    expect(b.events.map((e) => e.type)).toEqual(['replayed', 'replayed', 'mismatch']);
    expect(b.events[0]).toMatchObject({ outcome: 'result', waitedMs: 0, path: 'record' });
    expect(b.events[1]).toMatchObject({ outcome: 'error', waitedMs: 0 });
    expect(a.executions() + b.executions()).toBe(2);
    expect(await countEntries()).toBe(1);
  });

  it('costs one round trip more than the same handler without idempotency', async () => {
    await using a = openProcess();
    const plainDb = postgres.connect();
    // Counts the queries answered (not merely sent) by the time the call resolves.
    const original = pg.Client.prototype.query;
    let answered = 0;
    const sent = vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (
      this: pg.Client,
      ...args: unknown[]
    ) {
      const last = args.at(-1);
      if (typeof last === 'function') {
        args[args.length - 1] = (...results: unknown[]) => {
          answered++;
          return last(...results);
        };
      }
      const result = (original as (...a: unknown[]) => unknown).apply(this, args);
      if (result instanceof Promise)
        result.then(
          () => answered++,
          () => answered++,
        );
      return result as never;
    });
    try {
      const roundTrips = async (call: () => Promise<unknown>) => {
        sent.mockClear();
        answered = 0;
        await call();
        const beforeAnswer = answered;
        await sleep(50);
        return { beforeAnswer, all: sent.mock.calls.length };
      };
      const plain = await roundTrips(() =>
        plainDb.transaction(async (tx) => {
          await tx.insert(entries).values({ label: 'plain', amount: 1 }).returning();
        }),
      );
      const first = await roundTrips(() =>
        a.caller.record({ idempotencyKey: newKey(), label: 'rent', amount: 1 }),
      );
      // BEGIN, INSERT, COMMIT; and the lookup, BEGIN, INSERT, record insert with COMMIT.
      expect(plain).toEqual({ beforeAnswer: 3, all: 3 });
      expect(first.beforeAnswer).toBe(plain.beforeAnswer + 1);
      // Nothing after the answer: Drizzle's own COMMIT is not sent (the store committed).
      expect(first.all).toBe(plain.all + 1);
      const key = newKey();
      await a.caller.record({ idempotencyKey: key, label: 'rent', amount: 1 });
      await sleep(50);
      const replay = await roundTrips(() =>
        a.caller.record({ idempotencyKey: key, label: 'rent', amount: 1 }),
      );
      expect(replay).toEqual({ beforeAnswer: 1, all: 1 });
    } finally {
      sent.mockRestore();
      await plainDb.$client.end();
    }
  });

  it('builds no statement after the store: every path runs the statements built once', async () => {
    await using a = openProcess({ hooks: { insideCommit: failByLabel }, builder: { ttlMs: 1000 } });
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
      await a.caller.record({ idempotencyKey, label: 'rent', amount: 1 }); // commit
      await a.caller.record({ idempotencyKey, label: 'rent', amount: 1 }); // replay
      await expect(
        a.caller.record({ idempotencyKey: newKey(), label: 'broke', amount: 1 }),
      ).rejects.toThrow('insufficient funds'); // final error inside commit
      await expect(
        a.caller.record({ idempotencyKey: newKey(), label: 'transient', amount: 1 }),
      ).rejects.toThrow('connection reset'); // rollback, nothing stored
      await a.caller.notify({ idempotencyKey: newKey(), label: 'lease', amount: 1 }); // complete
      // Every primitive of the store, called directly.
      const now = Date.now();
      const claim = await a.store.claim({
        scope: 'alice',
        key: newKey(),
        path: 'direct',
        fingerprint: 'f',
        owner: 'direct-owner',
        now,
        leaseExpiresAt: now + 1000,
        expiresAt: now + 2000,
      });
      await a.store.renewLease({
        ...claim.record,
        leaseExpiresAt: now + 2000,
        expiresAt: now + 3000,
      });
      await a.store.saveSteps({ ...claim.record, steps: [{ name: 'a', body: null }] });
      await a.store.release(claim.record);
      const direct = { scope: 'alice', path: 'direct', fingerprint: 'f', owner: 'o', now };
      await a.store.commit(
        { ...direct, key: newKey(), expiresAt: now + 1000, maxWaitMs: 1000 },
        async () => 'done',
        (value) => ({ kind: 'result', body: JSON.stringify(value) }),
      );
      await a.store.insertCompleted({
        ...direct,
        key: newKey(),
        expiresAt: now + 1000,
        maxWaitMs: 1000,
        outcome: { kind: 'result', body: null },
      });
      await a.store.purge({ now: now + 60_000, limit: 10 });
      expect(onRecords()).toEqual([]);
      // The spies do see builders in transactions: the handler's own inserts.
      expect(builders[0]!.mock.calls.filter(([table]) => table === entries)).toHaveLength(3);
    } finally {
      for (const builder of builders) builder.mockRestore();
    }
  });

  it('scopes that differ only in lone surrogates never share a record (UTF-8 on the way to Postgres would merge them)', async () => {
    const db = postgres.connect({ max: 2 });
    try {
      const store = pgIdempotencyStore({ db });
      const served: string[] = [];
      const router = t.router({
        read: userIdempotent({ store, mode: 'lease' })
          .input(z.object({ note: z.string() }))
          .mutation(({ ctx }) => {
            served.push(ctx.user);
            return { secretOf: ctx.user };
          }),
      });
      const idempotencyKey = newKey();
      const tenants = ['acme\ud800', 'acme\udbff', 'acme\ufffd', 'acme'];
      for (const user of tenants) {
        const answer = await t.createCallerFactory(router)({ user }).read({
          idempotencyKey,
          note: 'n',
        });
        expect(answer.secretOf).toBe(user);
      }
      expect(served).toEqual(tenants);
      const { rows } = await admin.execute<{ scope: string }>(
        sql`SELECT scope FROM idempotency_records ORDER BY scope`,
      );
      expect(new Set(rows.map((row) => row.scope)).size).toBe(4);
      expect(rows.map((row) => row.scope)).toContain('acme\ufffd');
    } finally {
      await db.$client.end();
    }
  });
});
