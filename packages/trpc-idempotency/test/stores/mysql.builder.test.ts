import { setTimeout as sleep } from 'node:timers/promises';
import { TRPCError } from '@trpc/server';
import { sql } from 'drizzle-orm';
import { int, mysqlTable, serial, varchar } from 'drizzle-orm/mysql-core';
import { drizzle } from 'drizzle-orm/mysql2';
import mysql2 from 'mysql2';
import mysql from 'mysql2/promise';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { getIdempotencyErrorData, type IdempotencyEvent } from '../../src';
import { type MysqlIdempotencyStoreOptions, mysqlIdempotencyStore } from '../../src/mysql';
import { fingerprintInput } from '../../src/server/fingerprint';
import { insufficientFunds } from '../helpers/ledgerApp';
import { gate, manualClock, newKey } from '../helpers/sqliteApp';
import { t, type UserIdempotentOptions, userIdempotent } from '../helpers/trpc';
import { type MysqlPoolOptions, type MysqlTestDb, useMysqlDatabase } from './mariadb';

const entries = mysqlTable('entries', {
  id: serial('id').primaryKey(),
  label: varchar('label', { length: 100 }).notNull(),
  amount: int('amount').notNull(),
  /** Set by `recordOnce`: the handler's own unique key, derived from the idempotency key. */
  reference: varchar('reference', { length: 255 }),
});

const database = useMysqlDatabase();
let admin: MysqlTestDb;

beforeAll(async () => {
  admin = database.connect({ connectionLimit: 2 });
  await admin.execute(
    sql`CREATE TABLE entries (id serial PRIMARY KEY, label varchar(100) NOT NULL, amount int NOT NULL, reference varchar(255) UNIQUE)`,
  );
});

beforeEach(async () => {
  await admin.execute(sql`DELETE FROM entries`);
  await admin.execute(sql`DELETE FROM idempotency_records`);
});

type BuilderOptions = Partial<
  Omit<
    UserIdempotentOptions<ReturnType<typeof mysqlIdempotencyStore<MysqlTestDb>>>,
    'store' | 'mode'
  >
>;

interface Hooks {
  /** Awaited by the handler before its commit: hold an execution here. */
  prepare?: (label: string) => Promise<void>;
  /** Runs inside the commit after the write: throw to fail it. */
  insideCommit?: (label: string) => void;
}

/**
 * A server process: its own pool, store and builder, so it has its own
 * in-process join map too. `record` and `recordOnce` are transactional,
 * `notify` lease mode.
 */
function openProcess(
  opts: {
    hooks?: Hooks;
    pool?: MysqlPoolOptions;
    store?: Omit<MysqlIdempotencyStoreOptions<MysqlTestDb>, 'db'>;
    builder?: BuilderOptions;
  } = {},
) {
  const db = database.connect(opts.pool);
  const store = mysqlIdempotencyStore({ db, ...opts.store });
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
        const [inserted] = await tx.insert(entries).values(input);
        opts.hooks?.insideCommit?.(input.label);
        return { id: inserted.insertId, label: input.label, amount: input.amount };
      });
    }),
    // A handler whose own row is unique per idempotency key, as many ledgers keep it.
    recordOnce: transactional.input(input).mutation(async ({ input, ctx }) => {
      executions++;
      await opts.hooks?.prepare?.(input.label);
      return ctx.idempotency.commit(async (tx) => {
        const [inserted] = await tx
          .insert(entries)
          .values({ ...input, reference: input.idempotencyKey });
        return { id: inserted.insertId, label: input.label };
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

/** Waits until `count` sessions are held in an insert of a record (waiting on the key's row lock). */
async function lockWaiters(count: number) {
  const deadline = performance.now() + 5000;
  for (;;) {
    const [rows] = (await admin.execute(
      sql`SELECT count(*) AS waiting FROM information_schema.processlist WHERE state = 'Update' AND info LIKE 'insert into \`idempotency_records\`%'`,
    )) as unknown as [{ waiting: number }[]];
    if (Number(rows[0]!.waiting) >= count) return;
    if (performance.now() > deadline) {
      const [seen] = (await admin.execute(
        sql`SELECT command, time, state, info FROM information_schema.processlist`,
      )) as unknown as [unknown[]];
      throw new Error(`expected ${count} sessions waiting on a lock, saw ${JSON.stringify(seen)}`);
    }
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

/**
 * Another execution of `idempotencyKey` at its commit: a transaction on its own
 * connection that inserted the completed record and has not committed yet.
 */
async function uncommittedRecord(idempotencyKey: string, body: unknown) {
  const connection = await admin.$client.getConnection();
  await connection.query('BEGIN');
  const now = Date.now();
  await connection.query(
    `INSERT INTO idempotency_records (scope, \`key\`, path, fingerprint, state, owner, attempt, lease_expires_at_ms, expires_at_ms, created_at_ms, completed_at_ms, outcome_kind, response)
     VALUES ('alice', ?, 'record', ?, 'completed', 'elsewhere', 1, ?, ?, ?, ?, 'result', ?)`,
    [
      idempotencyKey,
      fingerprintInput({ label: 'rent', amount: 100 }),
      now,
      now + 60_000,
      now,
      now,
      JSON.stringify(body),
    ],
  );
  let open = true;
  const end = async (statement: 'COMMIT' | 'ROLLBACK') => {
    if (!open) return;
    open = false;
    await connection.query(statement);
    connection.release();
  };
  return {
    commit: () => end('COMMIT'),
    rollback: () => end('ROLLBACK'),
    // A failed test must not leave the row locked for the next one.
    [Symbol.asyncDispose]: () => end('ROLLBACK'),
  };
}

/** A process whose duplicates wait long at their commit, so a loaded machine cannot time them out. */
const patient = {
  store: { lockTimeoutMs: 10_000 },
  builder: { inFlight: { timeoutMs: 10_000 } },
};

describe('mysqlIdempotencyStore through idempotentProcedure', () => {
  it.each([
    ['one statement per query', false],
    ['several statements per query', true],
  ])(
    'transactional (%s): 20 concurrent calls in two processes write once and answer alike',
    async (_name, multipleStatements) => {
      const slow = { prepare: () => sleep(50) };
      await using a = openProcess({ hooks: slow, pool: { multipleStatements } });
      await using b = openProcess({ hooks: slow, pool: { multipleStatements } });
      const idempotencyKey = newKey();
      const call = (process: typeof a) =>
        process.caller.record({ idempotencyKey, label: 'rent', amount: 100 });
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => call(i % 2 === 0 ? a : b)),
      );
      expect(a.executions() + b.executions()).toBeLessThanOrEqual(2);
      expect(await countEntries()).toBe(1);
      expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
      const events = [...a.events, ...b.events].map((e) => e.type).sort();
      expect(events).toEqual(['executed', 'replayed', ...Array(18).fill('joined')].sort());
    },
  );

  it('a duplicate blocks on the primary key at its commit, then replays what committed first', async () => {
    await using b = openProcess(patient);
    const idempotencyKey = newKey();
    await using first = await uncommittedRecord(idempotencyKey, {
      id: 77,
      label: 'rent',
      amount: 100,
    });
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
    await using b = openProcess(patient);
    const idempotencyKey = newKey();
    await using first = await uncommittedRecord(idempotencyKey, { id: 77 });
    const duplicate = b.caller.record({ idempotencyKey, label: 'rent', amount: 100 });
    await lockWaiters(1);
    await first.rollback();
    const result = await duplicate;
    expect(b.events.map((e) => e.type)).toEqual(['executed']);
    expect(await countEntries()).toBe(1);
    expect(await b.caller.record({ idempotencyKey, label: 'rent', amount: 100 })).toEqual(result);
  });

  it('answers CONFLICT (in progress) when the lock wait passes lockTimeoutMs, in whole seconds', async () => {
    await using b = openProcess({
      store: { lockTimeoutMs: 1000 },
      builder: { inFlight: { timeoutMs: 5000, retryAfterMs: 500 } },
    });
    const idempotencyKey = newKey();
    await using first = await uncommittedRecord(idempotencyKey, { id: 77 });
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
    expect(getIdempotencyErrorData(error)).toMatchObject({
      reason: 'IDEMPOTENCY_IN_PROGRESS',
      retryAfterMs: 500,
    });
    expect(waitedMs).toBeGreaterThanOrEqual(900);
    expect(waitedMs).toBeLessThan(4000);
    expect(b.events.map((e) => e.type)).toEqual(['conflict']);
    // It rolled back alone; the key is free and its retry commits.
    await b.caller.record({ idempotencyKey, label: 'rent', amount: 100 });
    expect(await countEntries()).toBe(1);
  });

  it('when the handler’s own insert hits a unique key a concurrent retry committed first, it answers that retry’s result', async () => {
    const hold = holdPoint();
    await using a = openProcess({ hooks: { prepare: hold.prepare } });
    await using b = openProcess();
    const idempotencyKey = newKey();
    const held = a.caller.recordOnce({ idempotencyKey, label: 'rent', amount: 100 });
    await hold.entered;
    // The other process executes and commits while the first one prepares.
    const committedFirst = await b.caller.recordOnce({
      idempotencyKey,
      label: 'rent',
      amount: 100,
    });
    hold.release();
    expect(await held).toEqual(committedFirst);
    expect(a.events.map((e) => e.type)).toEqual(['replayed']);
    expect(await countEntries()).toBe(1);
  });

  it('a unique-key failure of the handler with no record behind it stays the handler’s error', async () => {
    await using a = openProcess();
    await admin.insert(entries).values({ label: 'x', amount: 1, reference: 'taken-reference-01' });
    const failed = await a.caller
      .recordOnce({ idempotencyKey: 'taken-reference-01', label: 'rent', amount: 1 })
      .catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: 'INTERNAL_SERVER_ERROR' });
    expect(
      await a.store.find({ scope: 'alice', key: 'taken-reference-01', now: Date.now() }),
    ).toBeUndefined();
  });

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
    expect(await call(a)).toMatchObject({
      code: 'PRECONDITION_FAILED',
      message: 'insufficient funds',
    });
    expect(await countEntries()).toBe(0);
    for (const process of [a, b]) {
      expect(await call(process)).toMatchObject({ code: 'PRECONDITION_FAILED' });
    }
    expect(a.executions() + b.executions()).toBe(1);
    expect(b.events.map((e) => e.type)).toEqual(['replayed']);
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
    await expect(b.caller.notify({ idempotencyKey, label: 'a', amount: 1 })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    clock.advance(1000);
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

  it('keys compare exactly: keys differing only in case are two keys', async () => {
    await using a = openProcess();
    const key = newKey('Case');
    const upper = await a.caller.record({
      idempotencyKey: key.toUpperCase(),
      label: 'a',
      amount: 1,
    });
    const lower = await a.caller.record({
      idempotencyKey: key.toLowerCase(),
      label: 'b',
      amount: 2,
    });
    expect(upper.id).not.toBe(lower.id);
    expect(await countEntries()).toBe(2);
  });

  it.each([
    ['one statement per query', 2, false],
    ['several statements per query', 1, true],
  ])(
    'a first execution (%s) costs plain + %i round trips',
    async (_name, extra, multipleStatements) => {
      await using a = openProcess({ pool: { connectionLimit: 1, multipleStatements } });
      const plainDb = database.connect({ connectionLimit: 1 });
      // Counts the queries answered by the time the call resolves, and all sent.
      const original = mysql2.Connection.prototype.query;
      let answered = 0;
      const sent = vi.spyOn(mysql2.Connection.prototype, 'query').mockImplementation(function (
        this: mysql2.Connection,
        ...args: unknown[]
      ) {
        const command = (original as (...a: unknown[]) => unknown).apply(this, args) as {
          once(event: 'end', listener: () => void): void;
        };
        // The query command ends when the server's answer is in (or it failed).
        command.once('end', () => answered++);
        return command as never;
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
        // Warm: each pool's one connection is open, and the store set its lock wait on it.
        await plainDb.$count(entries);
        await a.caller.record({ idempotencyKey: newKey(), label: 'warm', amount: 1 });
        await sleep(50);
        const plain = await roundTrips(() =>
          plainDb.transaction(async (tx) => {
            await tx.insert(entries).values({ label: 'plain', amount: 1 });
          }),
        );
        const first = await roundTrips(() =>
          a.caller.record({ idempotencyKey: newKey(), label: 'rent', amount: 1 }),
        );
        // BEGIN, INSERT, COMMIT; and the lookup, BEGIN, INSERT, the record's insert (with COMMIT).
        expect(plain).toEqual({ beforeAnswer: 3, all: 3 });
        expect(first.beforeAnswer).toBe(plain.beforeAnswer + extra);
        // Nothing after the answer: with several statements per query the store
        // commits, and Drizzle's own COMMIT is not sent.
        expect(first.all).toBe(plain.all + extra);
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
    },
  );
});

describe('mysqlIdempotencyStore’s checks', () => {
  it('names the supported driver when given a single connection or another client', async () => {
    const connection = await mysql.createConnection({ uri: database.url() });
    try {
      expect(() => mysqlIdempotencyStore({ db: drizzle({ client: connection }) as never })).toThrow(
        /needs a Drizzle database on a mysql2 Pool .*single mysql2 Connection/,
      );
      const httpLike = drizzle({ client: { query: async () => [[]] } as never });
      expect(() => mysqlIdempotencyStore({ db: httpLike as never })).toThrow(
        /PlanetScale's or TiDB's serverless/,
      );
    } finally {
      await connection.end();
    }
  });

  it('accepts a callback pool as well as a promise pool', async () => {
    const pool = mysql2.createPool({ uri: database.url(), connectionLimit: 2 });
    try {
      const store = mysqlIdempotencyStore({ db: drizzle({ client: pool }) });
      const record = { scope: 's', key: newKey(), path: 'p', fingerprint: 'f', owner: 'o' };
      const claimed = await store.claim({
        ...record,
        now: 1,
        leaseExpiresAt: 10,
        expiresAt: 100,
      });
      expect(claimed).toMatchObject({ acquired: true, record: { owner: 'o', attempt: 1 } });
    } finally {
      await new Promise((resolve) => pool.end(resolve));
    }
  });

  it('refuses a key longer than its column, rather than truncating it into another key', async () => {
    const db = database.connect({ connectionLimit: 1 });
    const store = mysqlIdempotencyStore({ db });
    await expect(store.find({ scope: 's', key: 'k'.repeat(256), now: 1 })).rejects.toThrow(
      /at most 255 characters/,
    );
    await expect(store.find({ scope: 's'.repeat(201), key: 'k', now: 1 })).rejects.toThrow(
      /at most 200 characters/,
    );
    expect(() => mysqlIdempotencyStore({ db, lockTimeoutMs: 0 })).toThrow(
      /lockTimeoutMs must be a positive integer/,
    );
  });
});
