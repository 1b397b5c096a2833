import { TRPCError } from '@trpc/server';
import { sql } from 'drizzle-orm';
import { describe, expect } from 'vitest';
import { z } from 'zod';
import { KeyAnsweredElsewhere } from '../src/index';
import { entries, gate, it, newKey, type SqliteTestDatabase } from './helpers/sqliteApp';
import { callerOf, t, userIdempotent } from './helpers/trpc';

/**
 * SQLite transactions are synchronous, so the design is async
 * preparation, then one synchronous transaction. These tests prove the three
 * properties that design exists for.
 */
describe('transactional mode on SQLite', () => {
  function transferApp(database: SqliteTestDatabase) {
    const idempotent = userIdempotent({ store: database.store });
    const db = database.db;
    return callerOf({
      // Two entries that always sum to zero, written in one commit.
      move: idempotent
        .input(z.object({ amount: z.number(), prepMs: z.number(), fail: z.boolean() }))
        .mutation(async ({ ctx, input }) => {
          await new Promise((r) => setTimeout(r, input.prepMs));
          return ctx.idempotency.commit((tx) => {
            tx.insert(entries).values({ label: 'debit', amount: -input.amount }).run();
            tx.insert(entries).values({ label: 'credit', amount: input.amount }).run();
            if (input.fail) throw new Error('disk full');
            return { moved: input.amount };
          });
        }),
      plainWrite: t.procedure.input(z.object({ label: z.string() })).mutation(({ input }) => {
        const inTransaction = db.$client.inTransaction;
        db.insert(entries).values({ label: input.label, amount: 0 }).run();
        return { inTransaction };
      }),
    });
  }

  it('(a) never runs another request’s statements inside an open transaction', async ({
    database,
  }) => {
    const caller = transferApp(database);
    const key = newKey();
    const failing = caller
      .move({ idempotencyKey: key, amount: 5, prepMs: 30, fail: true })
      .catch((e: Error) => e);
    // While the failing request prepares, other requests write on the same connection.
    const writes = await Promise.all(
      ['w1', 'w2', 'w3'].map((label) => caller.plainWrite({ label })),
    );
    expect(await failing).toMatchObject({ message: 'disk full' });
    expect(writes.every((w) => w.inTransaction === false)).toBe(true);
    // The failed commit rolled back its own two entries only; the others' writes stand.
    const labels = database.db.select({ label: entries.label }).from(entries).all();
    expect(labels.map((l) => l.label).sort()).toEqual(['w1', 'w2', 'w3']);
    expect(database.countRecords()).toBe(0);
  });

  it('(b) never lets a reader see uncommitted writes or writes without their record', async ({
    database,
  }) => {
    const caller = transferApp(database);
    const reader = database.openSecond().db;
    const observations: { sum: number; entries: number; completed: number }[] = [];
    const observe = () => {
      // One read transaction, so both numbers come from the same snapshot.
      observations.push(
        reader.transaction((tx) => {
          const totals = tx.get<{ sum: number | null; n: number }>(
            sql`SELECT sum(amount) AS sum, count(*) AS n FROM entries`,
          );
          const records = tx.get<{ n: number }>(
            sql`SELECT count(*) AS n FROM idempotency_records WHERE state = 'completed'`,
          );
          return { sum: totals.sum ?? 0, entries: totals.n, completed: records.n };
        }),
      );
    };
    const polling = setInterval(observe, 1);
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        caller
          .move({ idempotencyKey: newKey(), amount: i + 1, prepMs: i % 7, fail: i % 5 === 0 })
          .catch(() => undefined),
      ),
    );
    clearInterval(polling);
    observe();
    expect(observations.length).toBeGreaterThan(1);
    for (const seen of observations) {
      expect(seen.sum).toBe(0);
      expect(seen.entries).toBe(seen.completed * 2);
    }
    expect(observations.at(-1)).toEqual({ sum: 0, entries: 96, completed: 48 });
  });

  it('(c) does not block other requests while a handler awaits (no event-loop deadlock)', async ({
    database,
  }) => {
    const hold = gate();
    const idempotent = userIdempotent({ store: database.store });
    const other = database.openSecond();
    const otherIdempotent = userIdempotent({ store: other.store });
    const goCaller = (builder: typeof idempotent, waitFor?: Promise<void>) =>
      callerOf({
        go: builder.mutation(async ({ ctx }) => {
          await waitFor;
          return ctx.idempotency.commit((tx) => {
            tx.insert(entries).values({ label: 'x', amount: 1 }).run();
            return 'done';
          });
        }),
      });
    const slow = goCaller(idempotent, hold.opened).go({ idempotencyKey: newKey() });
    // Same connection, and a second connection (as another process would have): both finish
    // while the first handler is still parked on its await.
    const sameConnection = goCaller(idempotent).go({ idempotencyKey: newKey() });
    const otherConnection = goCaller(otherIdempotent).go({ idempotencyKey: newKey() });
    expect(await sameConnection).toBe('done');
    expect(await otherConnection).toBe('done');
    expect(database.countEntries()).toBe(2);
    hold.open();
    expect(await slow).toBe('done');
    expect(database.countEntries()).toBe(3);
  });

  it('rolls back and refuses an async commit callback', async ({ database }) => {
    const idempotent = userIdempotent({ store: database.store });
    const caller = callerOf({
      go: idempotent.mutation(({ ctx }) =>
        // @ts-expect-error an async callback cannot run in a synchronous transaction
        ctx.idempotency.commit(async (tx) => {
          tx.insert(entries).values({ label: 'x', amount: 1 }).run();
          return 1;
        }),
      ),
    });
    await expect(caller.go({ idempotencyKey: newKey() })).rejects.toThrow(
      /returned a promise: it runs inside a synchronous transaction/,
    );
    expect(database.countEntries()).toBe(0);
    expect(database.countRecords()).toBe(0);
  });

  it('answers with the committed outcome even if the handler throws after commit', async ({
    database,
  }) => {
    const idempotent = userIdempotent({ store: database.store });
    const caller = callerOf({
      go: idempotent.mutation(async ({ ctx }) => {
        await ctx.idempotency.commit((tx) => {
          tx.insert(entries).values({ label: 'x', amount: 1 }).run();
          return { ok: true };
        });
        throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'after commit' });
      }),
    });
    const key = newKey();
    expect(await caller.go({ idempotencyKey: key })).toEqual({ ok: true });
    expect(await caller.go({ idempotencyKey: key })).toEqual({ ok: true });
    expect(database.countEntries()).toBe(1);
  });

  it('rejects the commit of a key completed elsewhere with KeyAnsweredElsewhere, and answers with the stored outcome whatever the handler does', async ({
    database,
  }) => {
    const hold = gate();
    const seen: unknown[] = [];
    const goCaller = (store: typeof database.store, waitFor?: Promise<void>) =>
      callerOf({
        go: userIdempotent({ store }).mutation(async ({ ctx }) => {
          await waitFor;
          try {
            return await ctx.idempotency.commit((tx) => {
              tx.insert(entries).values({ label: 'x', amount: 1 }).run();
              return { by: waitFor ? 'slow' : 'fast' };
            });
          } catch (error) {
            seen.push(error);
            // Swallowing it changes nothing: the stored outcome answers.
            return { by: 'swallowed' };
          }
        }),
      });
    const key = newKey();
    const slow = goCaller(database.store, hold.opened).go({ idempotencyKey: key });
    // "Another process": its own connection, so no in-process join.
    const fast = await goCaller(database.openSecond().store).go({ idempotencyKey: key });
    hold.open();
    expect(await slow).toEqual(fast);
    expect(fast).toEqual({ by: 'fast' });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(KeyAnsweredElsewhere);
    expect(seen[0]).toMatchObject({ name: 'KeyAnsweredElsewhere' });
    expect(database.countEntries()).toBe(1);
  });
});
