import { setTimeout as sleep } from 'node:timers/promises';
import { PGlite } from '@electric-sql/pglite';
import { neon } from '@neondatabase/serverless';
import { sql } from 'drizzle-orm';
import { drizzle as drizzleNeonHttp } from 'drizzle-orm/neon-http';
import { drizzle as drizzleNodePostgres } from 'drizzle-orm/node-postgres';
import {
  integer,
  type PgDatabase,
  type PgQueryResultHKT,
  pgTable,
  text,
} from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgresJs } from 'drizzle-orm/postgres-js';
import pg from 'pg';
import postgresJs from 'postgres';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { IdempotencyEvent } from '../../src';
import {
  migratePgIdempotencyStore,
  pgIdempotencyStore,
  UnsupportedDriverError,
} from '../../src/pg';
import { pgIdempotencyAdminOn } from '../../src/pg/admin';
import { gate, newKey } from '../helpers/sqliteApp';
import { t, userIdempotent } from '../helpers/trpc';
import { createTestDatabase, type PgTestDb, usePostgresDatabase } from './postgres';
import { startRoundTripCounter } from './roundTripCounter';

/** A table whose key comes from the input, as an order number or an e-mail does. */
const orders = pgTable('orders', {
  number: text('number').primaryKey(),
  amount: integer('amount').notNull(),
});
const CREATE_ORDERS = sql`CREATE TABLE orders (number text PRIMARY KEY, amount integer NOT NULL)`;

type AnyDb = PgDatabase<PgQueryResultHKT, Record<string, never>>;

/**
 * A server process on `db`: its own store and builder (so its own in-process
 * joins). `place` inserts the order in the transaction `commit` opens, and
 * awaits `hooks.inserted` before it returns (the transaction still open).
 */
function openProcess(db: AnyDb, hooks: { inserted?: (number: string) => Promise<void> } = {}) {
  const store = pgIdempotencyStore({ db });
  const events: IdempotencyEvent[] = [];
  let executions = 0;
  const idempotent = userIdempotent({ store, onEvent: (event) => events.push(event) });
  const router = t.router({
    place: idempotent
      .input(z.object({ number: z.string(), amount: z.number().int() }))
      .mutation(({ input, ctx }) => {
        executions++;
        return ctx.idempotency.commit(async (tx) => {
          await tx.insert(orders).values(input);
          await hooks.inserted?.(input.number);
          return { placed: input.number, amount: input.amount };
        });
      }),
  });
  return {
    store,
    events,
    executions: () => executions,
    caller: t.createCallerFactory(router)({ user: 'alice' }),
  };
}

describe('Postgres server drivers', () => {
  const postgres = usePostgresDatabase();
  let admin: PgTestDb;
  const connect = {
    'node-postgres': (url?: string, max?: number) =>
      postgres.connect({ url, max }) as unknown as AnyDb,
    'postgres.js': (url?: string, max?: number) =>
      postgres.connectPostgresJs({ url, max }) as unknown as AnyDb,
  };

  beforeAll(async () => {
    admin = postgres.connect({ max: 2 });
    await admin.execute(CREATE_ORDERS);
  });
  beforeEach(async () => {
    await admin.execute(sql`TRUNCATE orders, idempotency_records`);
  });

  /** Waits until a session of the database waits on a lock (another transaction's row). */
  async function lockWaiter() {
    const deadline = performance.now() + 5000;
    for (;;) {
      const { rows } = await admin.execute<{ waiting: number }>(
        sql`SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      if (rows[0]!.waiting > 0) return;
      if (performance.now() > deadline) throw new Error('expected a session waiting on a lock');
      await sleep(5);
    }
  }

  it('postgres.js: the migrations log no notices, as its default `onnotice` would at every start', async () => {
    await using database = await createTestDatabase(postgres.serverUrl());
    const notices: string[] = [];
    const client = postgresJs(database.url, {
      max: 1,
      onnotice: (notice) => notices.push(String(notice['message'])),
    });
    try {
      const db = drizzlePostgresJs({ client });
      await migratePgIdempotencyStore(db);
      await migratePgIdempotencyStore(db); // the schema and tables exist: IF NOT EXISTS notices
      // The setting was the migration transaction's only: the session's own notices still come.
      await db.execute(sql`CREATE SCHEMA IF NOT EXISTS drizzle`);
      expect(notices).toEqual(['schema "drizzle" already exists, skipping']);
    } finally {
      await client.end();
    }
  });

  describe.each(Object.keys(connect) as (keyof typeof connect)[])('%s', (driver) => {
    it('migrates a new database from two processes at once, then again as a no-op', async () => {
      await using database = await createTestDatabase(postgres.serverUrl());
      const a = connect[driver](database.url, 2);
      const b = connect[driver](database.url, 2);
      await Promise.all([migratePgIdempotencyStore(a), migratePgIdempotencyStore(b)]);
      await migratePgIdempotencyStore(a);
      const store = pgIdempotencyStore({ db: a });
      expect(await store.find({ scope: 'alice', key: 'none', now: Date.now() })).toBe(undefined);
      for (const db of [a, b])
        await (db as unknown as { $client: { end(): Promise<void> } }).$client.end();
    });

    it('two processes racing the same keys execute each key once and answer alike', async () => {
      const a = openProcess(connect[driver]());
      const b = openProcess(connect[driver]());
      const keys = Array.from({ length: 20 }, (_, i) => ({ key: newKey(), number: `n-${i}` }));
      const answers = await Promise.all(
        keys.flatMap(({ key, number }) =>
          [a, b, a, b].map((process) =>
            process.caller.place({ idempotencyKey: key, number, amount: 5 }),
          ),
        ),
      );
      expect(await admin.$count(orders)).toBe(20);
      for (const [i, { number }] of keys.entries()) {
        expect(answers.slice(i * 4, i * 4 + 4)).toEqual(
          Array(4).fill({ placed: number, amount: 5 }),
        );
      }
      const executed = [...a.events, ...b.events].filter((e) => e.type === 'executed');
      expect(executed).toHaveLength(20);
    });

    it('a retry whose insert of a unique column waited on the first execution replays its result (not a 500)', async () => {
      const firstInserted = gate();
      const finishFirst = gate();
      const a = openProcess(connect[driver](), {
        inserted: async () => {
          firstInserted.open();
          await finishFirst.opened;
        },
      });
      const b = openProcess(connect[driver]());
      const call = { idempotencyKey: newKey(), number: 'order-4711', amount: 30 };
      const first = a.caller.place(call);
      await firstInserted.opened;
      // The retry finds no record yet (the first has not committed), runs the handler,
      // and its insert of the same order number waits on the first's row.
      const retry = b.caller.place(call).catch((error: unknown) => error);
      await lockWaiter();
      finishFirst.open();
      expect(await first).toEqual({ placed: 'order-4711', amount: 30 });
      expect(await retry).toEqual({ placed: 'order-4711', amount: 30 });
      expect(b.events.map((e) => e.type)).toEqual(['replayed']);
      expect(await admin.$count(orders)).toBe(1);
    });

    it('costs one round trip more than the same handler without idempotency', async () => {
      await using counter = await startRoundTripCounter(postgres.url());
      // One connection: postgres.js describes a statement before its first run on each connection.
      const db = connect[driver](counter.url, 1);
      const process = openProcess(db);
      /** Round trips until `call` resolves, and all of them once the connection is quiet. */
      const roundTrips = async (call: () => Promise<unknown>) => {
        await sleep(30);
        counter.reset();
        await call();
        const beforeAnswer = counter.count();
        await sleep(50);
        return { beforeAnswer, all: counter.count() };
      };
      const plain = () =>
        db.transaction(async (tx) => {
          await tx.insert(orders).values({ number: newKey(), amount: 1 });
        });
      const first = () =>
        process.caller.place({ idempotencyKey: newKey(), number: newKey(), amount: 1 });
      // Warm: connections open, statements prepared on them.
      for (let i = 0; i < 3; i++) {
        await plain();
        await first();
      }
      const plainTrips = await roundTrips(plain);
      const firstTrips = await roundTrips(first);
      const replayed = { idempotencyKey: newKey(), number: newKey(), amount: 1 };
      await process.caller.place(replayed);
      const replayTrips = await roundTrips(() => process.caller.place(replayed));
      // Before the proxy closes its connections under it.
      await (db as unknown as { $client: { end(): Promise<void> } }).$client.end();
      // BEGIN, the insert, COMMIT. postgres.js describes a query Drizzle does not name
      // before it runs it, every time (a round trip of its own): the handler's insert here.
      expect(plainTrips.beforeAnswer).toBe(driver === 'node-postgres' ? 3 : 4);
      // The lookup first, then the same, the record's statements travelling with COMMIT.
      expect(firstTrips.beforeAnswer).toBe(plainTrips.beforeAnswer + 1);
      expect(replayTrips).toEqual({ beforeAnswer: 1, all: 1 });
      // Nothing after the answer: Drizzle's own COMMIT is not sent (the store committed).
      expect(firstTrips.all).toBe(plainTrips.all + 1);
    });
  });
});

describe('PGlite (in process)', () => {
  const statements: string[] = [];
  const client = new PGlite();
  const db = drizzlePglite({ client, logger: { logQuery: (query) => statements.push(query) } });
  beforeAll(async () => {
    await migratePgIdempotencyStore(db);
    await db.execute(CREATE_ORDERS);
  });
  afterAll(() => client.close());

  it('a first execution runs the lookup and two record statements beside the handler’s', async () => {
    const process = openProcess(db as unknown as AnyDb);
    const count = async (call: () => Promise<unknown>) => {
      statements.length = 0;
      await call();
      return statements.length;
    };
    const plain = await count(() =>
      db.transaction(async (tx) => {
        await tx.insert(orders).values({ number: newKey(), amount: 1 });
      }),
    );
    const call = { idempotencyKey: newKey(), number: newKey(), amount: 1 };
    // No network: these are calls into the same process, not round trips.
    expect(await count(() => process.caller.place(call))).toBe(plain + 3);
    expect(await count(() => process.caller.place(call))).toBe(1);
  });

  it('a concurrent duplicate waits for the first transaction and replays it', async () => {
    const a = openProcess(db as unknown as AnyDb);
    const b = openProcess(db as unknown as AnyDb);
    const call = { idempotencyKey: newKey(), number: 'order-1', amount: 2 };
    const answers = await Promise.all([a.caller.place(call), b.caller.place(call)]);
    expect(answers).toEqual([
      { placed: 'order-1', amount: 2 },
      { placed: 'order-1', amount: 2 },
    ]);
    expect(await db.$count(orders, sql`${orders.number} = 'order-1'`)).toBe(1);
  });
});

describe('the operations admin on PGlite (in process, no URL)', () => {
  const client = new PGlite();
  const db = drizzlePglite({ client });
  afterAll(() => client.close());

  it('says the records table is missing, then counts, inspects, releases and purges', async () => {
    await expect(pgIdempotencyAdminOn({ db, close: async () => {} })).rejects.toThrow(
      'the database has no idempotency_records table (run the migrations first)',
    );
    await migratePgIdempotencyStore(db);
    const admin = await pgIdempotencyAdminOn({ db, close: async () => {} });
    const store = pgIdempotencyStore({ db });
    const now = Date.now();
    const record = { scope: 'alice', path: 'pay', fingerprint: 'f', now };
    await store.claim({
      ...record,
      key: 'stuck',
      owner: 'o1',
      leaseExpiresAt: now + 10,
      expiresAt: now + 100,
    });
    await store.insertCompleted({
      ...record,
      key: 'old',
      owner: 'o2',
      expiresAt: now + 50,
      maxWaitMs: 0,
      outcome: { kind: 'result', body: '1' },
    });
    const later = now + 60;
    expect(await admin.stats({ now: later })).toMatchObject({
      total: 2,
      inProgress: 1,
      expiredLeases: 1,
      completed: 1,
      expiredAwaitingPurge: 1,
    });
    expect(await admin.inspect({ scope: 'alice', key: 'stuck' })).toMatchObject({
      state: 'in_progress',
      owner: 'o1',
    });
    expect(await admin.countPurgeable({ now: later })).toBe(1);
    expect(await admin.release({ scope: 'alice', key: 'stuck', now: later, force: false })).toBe(
      'released',
    );
    expect(await admin.purgeBatch({ now: later, limit: 10 })).toBe(1);
    expect(await admin.stats({ now: later })).toMatchObject({ total: 0 });
    await admin.close();
  });
});

describe('unsupported drivers', () => {
  const supported =
    /Supported: node-postgres on a pool .*, postgres\.js \(drizzle-orm\/postgres-js\) and PGlite \(drizzle-orm\/pglite\)$/;
  it.each([
    [
      'Neon’s HTTP driver',
      () => drizzleNeonHttp({ client: neon('postgres://user:pass@127.0.0.1:1/db') }),
      /NeonHttpSession is not supported: Neon’s HTTP driver has no interactive transactions/,
    ],
    ['an object that is not a Drizzle database', () => ({}), /not a Drizzle Postgres database/],
  ])('%s is a clear error naming the supported drivers', async (_name, open, reason) => {
    const db = open() as unknown as AnyDb;
    expect(() => pgIdempotencyStore({ db })).toThrow(UnsupportedDriverError);
    expect(() => pgIdempotencyStore({ db })).toThrow(reason);
    expect(() => pgIdempotencyStore({ db })).toThrow(supported);
    await expect(migratePgIdempotencyStore(db)).rejects.toThrow(reason);
  });

  it('a single pg.Client is refused by the store (it needs a pool), not by the migrations', () => {
    const db = drizzleNodePostgres({ client: new pg.Client() });
    expect(() => pgIdempotencyStore({ db })).toThrow(
      /pgIdempotencyStore: node-postgres on a single pg\.Client is not supported: .* pass a pg\.Pool\. Supported: /,
    );
  });
});
