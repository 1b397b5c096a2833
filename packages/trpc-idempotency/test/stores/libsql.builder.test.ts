/**
 * idempotentProcedure on the SQLite store over libSQL, whose transactions are
 * asynchronous: transactional mode (SPEC 3.6, 5.1) with SPEC 5.2's three
 * guarantees on a local file, lease mode with take-over and fencing, and the
 * round trips a first execution costs on a remote database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { type Client, createClient } from '@libsql/client';
import { TRPCError } from '@trpc/server';
import { drizzle } from 'drizzle-orm/libsql';
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { z } from 'zod';
import type { IdempotencyEvent } from '../../src';
import { migrateSqliteIdempotencyStore, sqliteIdempotencyStore } from '../../src/sqlite';
import { type HranaServerProcess, startHranaServer } from '../helpers/hranaProcess';
import { gate, manualClock, newKey } from '../helpers/sqliteApp';
import { callerOf, userIdempotent } from '../helpers/trpc';

const entries = sqliteTable('entries', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  label: text('label').notNull(),
  amount: integer('amount').notNull(),
});
const ENTRIES_TABLE =
  'CREATE TABLE entries (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL, amount INTEGER NOT NULL)';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'trpc-idempotency-libsql-builder-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** A fresh libSQL file with the records and entries tables. */
async function libsqlFile() {
  const url = pathToFileURL(join(dir, `db-${++files}.db`)).href;
  const db = drizzle({ connection: { url, timeout: 5000 } });
  await migrateSqliteIdempotencyStore(db);
  await db.$client.execute(ENTRIES_TABLE);
  db.$client.close();
  return url;
}

interface Hooks {
  /** Awaited by `record` before its commit (its preparation). */
  prepare?: () => Promise<void>;
  /** Awaited inside the commit, after the write: an open transaction. */
  insideCommit?: () => Promise<void>;
}

/**
 * A server process on the database at `url`: its own client, store and
 * builder. `record` is transactional, `notify` lease mode (its effect goes
 * to `sent`).
 */
function openProcess(
  url: string,
  opts: { hooks?: Hooks; clock?: () => number; client?: Client } = {},
) {
  const db = drizzle({ client: opts.client ?? createClient({ url, timeout: 5000 }) });
  const store = sqliteIdempotencyStore({ db });
  const events: IdempotencyEvent[] = [];
  const sent: string[] = [];
  const common = { store, onEvent: (event: IdempotencyEvent) => events.push(event) };
  const clock = opts.clock ? { clock: opts.clock } : {};
  const input = z.object({ idempotencyKey: z.string(), label: z.string(), amount: z.number() });
  const caller = callerOf({
    record: userIdempotent({ ...common, ...clock })
      .input(input)
      .mutation(async ({ ctx, input }) => {
        await opts.hooks?.prepare?.();
        if (input.amount < 0) throw new TRPCError({ code: 'BAD_REQUEST', message: 'negative' });
        return ctx.idempotency.commit(async (tx) => {
          const [row] = await tx
            .insert(entries)
            .values({ label: input.label, amount: input.amount })
            .returning();
          await opts.hooks?.insideCommit?.();
          if (input.label === 'fail') throw new Error('transient failure inside the commit');
          return { entryId: row!.id };
        });
      }),
    notify: userIdempotent({ ...common, ...clock, mode: 'lease', leaseMs: 1000 })
      .input(input)
      .mutation(async ({ ctx, input }) => {
        const finished = await ctx.idempotency.step(
          'prepare',
          async () => `prepared ${input.label}`,
        );
        await opts.hooks?.prepare?.();
        sent.push(`${finished} as ${ctx.idempotency.attempt}`);
        return { sent: input.label, attempt: ctx.idempotency.attempt };
      }),
  });
  return {
    db,
    store,
    caller,
    events,
    sent,
    entries: async () => (await db.select().from(entries)).length,
    [Symbol.dispose]: () => db.$client.close(),
  };
}

describe('the SQLite store on libSQL', () => {
  it('refuses an in-memory database, a file without a busy timeout, and busyTimeoutMs', async () => {
    const memory = drizzle({ connection: { url: ':memory:' } });
    await expect(migrateSqliteIdempotencyStore(memory)).rejects.toThrow(
      /an in-memory libSQL database has one connection/,
    );
    memory.$client.close();
    const url = await libsqlFile();
    using noTimeout = openProcess(url, { client: createClient({ url }) });
    await expect(migrateSqliteIdempotencyStore(noTimeout.db)).rejects.toThrow(
      /a libSQL file needs the client's busy timeout, e.g. drizzle\(\{ connection: \{ url: 'file:app.db', timeout: 5000 \} \}\)/,
    );
    // The store says so at its first statement (creating it is synchronous).
    await expect(noTimeout.store.find({ scope: 'u', key: 'k', now: 1 })).rejects.toThrow(
      /needs the client's busy timeout/,
    );
    using app = openProcess(url);
    expect(() => sqliteIdempotencyStore({ db: app.db, busyTimeoutMs: 100 } as never)).toThrow(
      /busyTimeoutMs is better-sqlite3's; on libSQL, set the client's busy timeout/,
    );
  });

  it('refuses a store on a table that is not there, at its first statement', async () => {
    const url = pathToFileURL(join(dir, 'empty.db')).href;
    const db = drizzle({ connection: { url, timeout: 5000 } });
    const store = sqliteIdempotencyStore({ db });
    await expect(store.find({ scope: 'u', key: 'k', now: 1 })).rejects.toThrow(
      /no idempotency_records table: call migrateSqliteIdempotencyStore\(db\)/,
    );
    await migrateSqliteIdempotencyStore(db);
    expect(await store.find({ scope: 'u', key: 'k', now: 1 })).toBe(undefined);
    db.$client.close();
  });

  it('has asynchronous transactions, in its type and at run time', async () => {
    const url = await libsqlFile();
    using app = openProcess(url);
    expect(app.store.transactionKind).toBe('async');
    expectTypeOf(app.store.transactionKind).toEqualTypeOf<'async'>();
  });
});

describe('lease mode on a libSQL file', () => {
  it('takes a lapsed lease over, resuming after its finished steps; the old owner is fenced', async () => {
    const url = await libsqlFile();
    const clock = manualClock();
    const held = gate();
    const reached = gate();
    using crashed = openProcess(url, {
      clock: clock.now,
      hooks: {
        prepare: async () => {
          reached.open();
          await held.opened;
        },
      },
    });
    using next = openProcess(url, { clock: clock.now });
    const input = { idempotencyKey: newKey(), label: 'mail', amount: 1 };
    const zombie = crashed.caller.notify(input);
    await reached.opened;
    clock.advance(1001);
    expect(await next.caller.notify(input)).toEqual({ sent: 'mail', attempt: 2 });
    // The step finished before the crash returned its stored result: it did not run again.
    expect(next.sent).toEqual(['prepared mail as 2']);
    held.open();
    await expect(zombie).rejects.toThrow();
    expect(crashed.events.map((event) => event.type)).toEqual(['fenced']);
    expect(
      await next.store.find({ scope: 'u', key: input.idempotencyKey, now: clock.now() }),
    ).toMatchObject({ state: 'completed', attempt: 2 });
    expect(await next.caller.notify(input)).toEqual({ sent: 'mail', attempt: 2 });
    expect(next.events.map((event) => event.type)).toEqual(['executed', 'replayed']);
    expect(next.events[0]).toMatchObject({ attempt: 2, takenOver: true });
  });
});

describe('transactional mode on a libSQL file', () => {
  it('writes nothing before the commit, then the writes and the completed record together', async () => {
    const url = await libsqlFile();
    const held = gate();
    const reached = gate();
    using app = openProcess(url, {
      hooks: {
        prepare: async () => {
          reached.open();
          await held.opened;
        },
      },
    });
    const idempotencyKey = newKey();
    const running = app.caller.record({ idempotencyKey, label: 'rent', amount: 100 });
    await reached.opened;
    expect(await app.store.find({ scope: 'u', key: idempotencyKey, now: Date.now() })).toBe(
      undefined,
    );
    held.open();
    const first = await running;
    expect(await app.entries()).toBe(1);
    expect(
      await app.store.find({ scope: 'u', key: idempotencyKey, now: Date.now() }),
    ).toMatchObject({ state: 'completed', attempt: 1 });
    expect(await app.caller.record({ idempotencyKey, label: 'rent', amount: 100 })).toEqual(first);
    expect(await app.entries()).toBe(1);
    expect(app.events.map((event) => event.type)).toEqual(['executed', 'replayed']);
  });

  it('settles a duplicate in another process at its commit: its write rolls back, it replays', async () => {
    const url = await libsqlFile();
    const held = gate();
    const reached = gate();
    using slow = openProcess(url, {
      hooks: {
        prepare: async () => {
          reached.open();
          await held.opened;
        },
      },
    });
    using other = openProcess(url);
    const idempotencyKey = newKey();
    const input = { idempotencyKey, label: 'rent', amount: 100 };
    const first = slow.caller.record(input);
    await reached.opened;
    const otherAnswer = await other.caller.record(input);
    held.open();
    expect(await first).toEqual(otherAnswer);
    expect(await other.entries()).toBe(1);
    expect(slow.events.map((event) => event.type)).toEqual(['replayed']);
    expect(other.events.map((event) => event.type)).toEqual(['executed']);
  });

  it('stores a final error with one insert and replays it; a transient one stores nothing', async () => {
    const url = await libsqlFile();
    using app = openProcess(url);
    const idempotencyKey = newKey();
    const call = () => app.caller.record({ idempotencyKey, label: 'x', amount: -1 });
    await expect(call()).rejects.toMatchObject({ code: 'BAD_REQUEST', message: 'negative' });
    await expect(call()).rejects.toMatchObject({ code: 'BAD_REQUEST', message: 'negative' });
    const failing = newKey();
    await expect(
      app.caller.record({ idempotencyKey: failing, label: 'fail', amount: 1 }),
    ).rejects.toThrow('transient failure inside the commit');
    expect(await app.entries()).toBe(0);
    expect(await app.store.find({ scope: 'u', key: failing, now: Date.now() })).toBe(undefined);
    expect(app.events.map((event) => event.type)).toEqual(['executed', 'replayed', 'released']);
  });

  describe('SPEC 5.2 with a transaction open and awaiting the event loop', () => {
    /** A transactional execution held inside its commit, after its write; `fail` rolls it back. */
    async function openTransaction(label: 'held' | 'fail') {
      const url = await libsqlFile();
      const inside = gate();
      const release = gate();
      const app = openProcess(url, {
        // libSQL's own busy timeout, as an app sharing the file with other processes sets it:
        // a write that met this process's open transaction would wait for it synchronously.
        client: createClient({ url, timeout: 3000 }),
        hooks: {
          insideCommit: async () => {
            inside.open();
            await release.opened;
          },
        },
      });
      const key = newKey();
      const running = app.caller.record({ idempotencyKey: key, label, amount: 1 });
      await inside.opened;
      return { url, app, key, running, release };
    }

    it('(a) runs no other request’s statement inside it: a rollback takes none of theirs', async () => {
      const { app, running, release } = await openTransaction('fail');
      using _ = app;
      // Another request of this process writes (lease mode: claim, complete) while it is open.
      const other = app.caller.notify({ idempotencyKey: newKey(), label: 'other', amount: 1 });
      await sleep(50);
      // The open transaction now fails and rolls back; the other request's writes stay.
      release.open();
      await expect(running).rejects.toThrow('transient failure inside the commit');
      await expect(other).resolves.toEqual({ sent: 'other', attempt: 1 });
      expect(app.sent).toEqual(['prepared other as 1']);
      expect(app.events.map((event) => event.type).sort()).toEqual(['executed', 'released']);
    });

    it('(b) shows its uncommitted writes to no one: neither the record nor the rows', async () => {
      const { url, app, key, running, release } = await openTransaction('held');
      using _ = app;
      using reader = openProcess(url);
      expect(await app.entries()).toBe(0);
      expect(await reader.entries()).toBe(0);
      expect(await app.store.find({ scope: 'u', key, now: Date.now() })).toBe(undefined);
      release.open();
      await running;
      expect(await reader.entries()).toBe(1);
    });

    it('(c) never waits synchronously for it: timers run, and another commit waits its turn', async () => {
      const { app, running, release } = await openTransaction('held');
      using _ = app;
      const second = app.caller.record({ idempotencyKey: newKey(), label: 'second', amount: 2 });
      const started = performance.now();
      await sleep(30);
      // The event loop was free: a 30 ms timer did not wait for a lock.
      expect(performance.now() - started).toBeLessThan(1000);
      expect(await app.entries()).toBe(0);
      release.open();
      expect(await running).toEqual({ entryId: 1 });
      expect(await second).toEqual({ entryId: 2 });
    });
  });
});

describe('transactional mode on a remote libSQL database (Hrana over HTTP)', () => {
  let server: HranaServerProcess;
  beforeAll(async () => {
    server = await startHranaServer(join(dir, 'remote.db'));
    const db = drizzle({ connection: { url: server.libsqlUrl } });
    await migrateSqliteIdempotencyStore(db);
    await db.$client.execute(ENTRIES_TABLE);
    db.$client.close();
  });
  afterAll(() => server?.[Symbol.asyncDispose]());

  it('settles a duplicate in another process at its commit: the insert meets the key, it replays', async () => {
    const held = gate();
    const reached = gate();
    using slow = openProcess(server.libsqlUrl, {
      hooks: {
        prepare: async () => {
          reached.open();
          await held.opened;
        },
      },
    });
    using other = openProcess(server.libsqlUrl);
    const before = await other.entries();
    const input = { idempotencyKey: newKey(), label: 'rent', amount: 100 };
    const first = slow.caller.record(input);
    await reached.opened;
    const otherAnswer = await other.caller.record(input);
    held.open();
    expect(await first).toEqual(otherAnswer);
    expect(await other.entries()).toBe(before + 1);
    expect(slow.events.map((event) => event.type)).toEqual(['replayed']);
  });

  it('costs one round trip more than the same transaction without idempotency', async () => {
    // Requests sent, and requests answered: what a call waited for is what was answered by its end.
    let requests = 0;
    let answered = 0;
    const client = createClient({
      url: server.libsqlUrl,
      fetch: async (request: Request) => {
        requests++;
        const response = await fetch(request);
        answered++;
        return response;
      },
    });
    using app = openProcess(server.libsqlUrl, { client });
    // The client's one-time protocol check, and the store's one-time check of its table.
    await app.caller.record({ idempotencyKey: newKey(), label: 'warm-up', amount: 1 });
    await sleep(100);
    const roundTrips = async (call: () => Promise<unknown>) => {
      requests = 0;
      answered = 0;
      await call();
      const beforeAnswer = answered;
      await sleep(100);
      return { beforeAnswer, all: requests };
    };
    const plain = await roundTrips(() =>
      app.db.transaction(async (tx) => {
        await tx.insert(entries).values({ label: 'plain', amount: 1 }).returning();
      }),
    );
    const key = newKey();
    const first = await roundTrips(() =>
      app.caller.record({ idempotencyKey: key, label: 'rent', amount: 1 }),
    );
    // BEGIN with the INSERT, then COMMIT; and the lookup, BEGIN with the INSERT, the record with COMMIT.
    expect(plain).toEqual({ beforeAnswer: 2, all: 2 });
    expect(first.beforeAnswer).toBe(plain.beforeAnswer + 1);
    // Drizzle's own COMMIT then finds the transaction committed, after the answer.
    expect(first.all).toBe(plain.all + 2);
    const replay = await roundTrips(() =>
      app.caller.record({ idempotencyKey: key, label: 'rent', amount: 1 }),
    );
    expect(replay).toEqual({ beforeAnswer: 1, all: 1 });
  });
});

describe('statements of a first execution on a libSQL file', () => {
  it('the lookup and the record’s two statements beside the same transaction, all in process', async () => {
    // Every statement @libsql/client runs on a file is prepared on libsql's Database.
    const fromClient = createRequire(import.meta.url).resolve('@libsql/client');
    const { default: LibsqlDatabase } = (await import(
      createRequire(fromClient).resolve('libsql', { paths: [dirname(fromClient)] })
    )) as { default: { prototype: { prepare(sql: string): unknown } } };
    const url = await libsqlFile();
    using app = openProcess(url);
    await app.caller.record({ idempotencyKey: newKey(), label: 'warm-up', amount: 1 });
    const prepared = vi.spyOn(LibsqlDatabase.prototype, 'prepare');
    try {
      const statements = async (call: () => Promise<unknown>) => {
        prepared.mockClear();
        await call();
        return prepared.mock.calls.map(([sql]) => sql.split(' ').slice(0, 2).join(' '));
      };
      const plain = await statements(() =>
        app.db.transaction(async (tx) => {
          await tx.insert(entries).values({ label: 'plain', amount: 1 }).returning();
        }),
      );
      const key = newKey();
      const first = await statements(() =>
        app.caller.record({ idempotencyKey: key, label: 'rent', amount: 1 }),
      );
      expect(plain).toEqual(['BEGIN IMMEDIATE', 'insert into', 'COMMIT']);
      expect(first).toEqual([
        'select "scope",', // the lookup
        'BEGIN IMMEDIATE',
        'insert into', // the handler's write
        'delete from', // a replaceable record makes way
        'insert into', // the completed record
        'COMMIT',
      ]);
      expect(
        await statements(() =>
          app.caller.record({ idempotencyKey: key, label: 'rent', amount: 1 }),
        ),
      ).toEqual(['select "scope",']);
    } finally {
      prepared.mockRestore();
    }
  });
});
