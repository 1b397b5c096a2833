import { TRPCError } from '@trpc/server';
import { describe, expect, vi } from 'vitest';
import { z } from 'zod';
import { httpTestServer } from './helpers/httpServer';
import { type LedgerOptions, ledgerApp } from './helpers/ledgerApp';
import { gate, it, manualClock, newKey, type SqliteTestDatabase } from './helpers/sqliteApp';
import { callerOf, t, userIdempotent } from './helpers/trpc';

/** The test database's store, with every call that reads or writes a record counted. */
function countingStore(database: Pick<SqliteTestDatabase, 'store'>) {
  const { store } = database;
  const calls = { find: 0, commit: 0, insertCompleted: 0, claim: 0 };
  const counted: typeof store = {
    ...store,
    find: (opts) => {
      calls.find++;
      return store.find(opts);
    },
    commit: (opts, write, encode) => {
      calls.commit++;
      return store.commit(opts, write, encode);
    },
    insertCompleted: (opts) => {
      calls.insertCompleted++;
      return store.insertCompleted(opts);
    },
    claim: (opts) => {
      calls.claim++;
      return store.claim(opts);
    },
  };
  return { store: counted, calls };
}

/** The tests' ledger on the test database's store, every call that reads or writes a record counted. */
function payApp(database: Pick<SqliteTestDatabase, 'store'>, opts: LedgerOptions = {}) {
  const { store, calls } = countingStore(database);
  return { ...ledgerApp(store, opts), calls };
}

describe('transactional mode: one write per first execution, one read per replay', () => {
  it('executes with a read and one commit, no claim; replays from the read alone', async ({
    database,
  }) => {
    const app = payApp(database);
    const idempotencyKey = newKey();
    const first = await app.caller.pay({ idempotencyKey, label: 'rent', amount: 100 });
    expect(app.calls).toEqual({ find: 1, commit: 1, insertCompleted: 0, claim: 0 });

    expect(await app.caller.pay({ idempotencyKey, label: 'rent', amount: 100 })).toEqual(first);
    expect(await app.caller.pay({ idempotencyKey, amount: 100, label: 'rent' })).toEqual(first);
    expect(app.calls).toEqual({ find: 3, commit: 1, insertCompleted: 0, claim: 0 });
    expect(app.executions()).toBe(1);
    expect(database.countEntries()).toBe(1);
    expect(app.events.map((e) => e.type)).toEqual(['executed', 'replayed', 'replayed']);
    expect(app.events[1]).toEqual({
      type: 'replayed',
      outcome: 'result',
      waitedMs: 0,
      scope: 'alice',
      path: 'pay',
      durationMs: expect.any(Number),
    });
  });

  it('writes nothing before the commit: the record is created completed', async ({ database }) => {
    const app = payApp(database);
    const hold = app.holdHandlers();
    const idempotencyKey = newKey();
    const running = app.caller.pay({ idempotencyKey, label: 'rent', amount: 100 });
    await expect.poll(() => app.executions()).toBe(1);
    expect(database.countRecords()).toBe(0);
    hold.open();
    await running;
    expect(
      await database.store.find({ scope: 'alice', key: idempotencyKey, now: Date.now() }),
    ).toMatchObject({ state: 'completed', attempt: 1 });
  });

  it('stores a final error with one insert, and replays it from a read: same code and message', async ({
    database,
  }) => {
    const app = payApp(database);
    const idempotencyKey = newKey();
    const call = () => app.caller.pay({ idempotencyKey, label: 'big', amount: 5000 });
    const first = await call().catch((e: unknown) => e);
    expect(first).toMatchObject({ code: 'PRECONDITION_FAILED', message: 'insufficient funds' });
    const replayed = await call().catch((e: unknown) => e);
    expect(replayed).toBeInstanceOf(TRPCError);
    expect(replayed).toMatchObject({ code: 'PRECONDITION_FAILED', message: 'insufficient funds' });
    expect(replayed).not.toBe(first);
    expect(app.calls).toEqual({ find: 2, commit: 0, insertCompleted: 1, claim: 0 });
    expect(app.executions()).toBe(1);
    expect(app.events.at(-1)).toMatchObject({ type: 'replayed', outcome: 'error', waitedMs: 0 });
  });

  it('answers a completed key reused with other input or procedure with 422 from a read', async ({
    database,
  }) => {
    const app = payApp(database);
    const idempotencyKey = newKey();
    await app.caller.pay({ idempotencyKey, label: 'rent', amount: 100 });
    const stored = await database.store.find({
      scope: 'alice',
      key: idempotencyKey,
      now: Date.now(),
    });

    await expect(
      app.caller.pay({ idempotencyKey, label: 'rent', amount: 101 }),
    ).rejects.toMatchObject({
      code: 'UNPROCESSABLE_CONTENT',
      reason: 'IDEMPOTENCY_KEY_REUSED',
      message: expect.stringContaining('with different input'),
    });
    await expect(app.caller.refund({ idempotencyKey, label: 'rent' })).rejects.toMatchObject({
      code: 'UNPROCESSABLE_CONTENT',
      message: expect.stringContaining('with procedure `pay`'),
    });
    expect(app.calls).toEqual({ find: 3, commit: 1, insertCompleted: 0, claim: 0 });
    expect(app.events.map((e) => e.type)).toEqual(['executed', 'mismatch', 'mismatch']);
    expect(
      await database.store.find({ scope: 'alice', key: idempotencyKey, now: Date.now() }),
    ).toEqual(stored);
    expect(app.executions()).toBe(1);
  });

  it('executes an expired key anew through the commit', async ({ database }) => {
    const clock = manualClock();
    const app = payApp(database, { clock: clock.now, ttlMs: 30_000, horizonMs: 60_000 });
    const idempotencyKey = newKey();
    const first = await app.caller.pay({ idempotencyKey, label: 'rent', amount: 100 });
    clock.advance(60_000); // past its horizon (a tombstone since 30 s), not purged
    const again = await app.caller.pay({ idempotencyKey, label: 'rent', amount: 100 });
    expect(again.id).not.toBe(first.id);
    expect(app.calls).toEqual({ find: 2, commit: 2, insertCompleted: 0, claim: 0 });
    expect(app.executions()).toBe(2);
    expect(app.events.map((e) => e.type)).toEqual(['executed', 'executed']);
    expect(app.events[1]).toMatchObject({ attempt: 1, takenOver: false });
  });

  it('settles a duplicate in another process at its commit: its write does not run, it replays', async ({
    database,
  }) => {
    const slow = payApp(database);
    const hold = slow.holdHandlers();
    const other = payApp(database.openSecond());
    const idempotencyKey = newKey();
    const input = { idempotencyKey, label: 'rent', amount: 100 };
    // The first is held in its preparation; the duplicate in "another process" runs through.
    const running = slow.caller.pay(input);
    await expect.poll(() => slow.executions()).toBe(1);
    const answered = await other.caller.pay(input);
    hold.open();
    expect(await running).toEqual(answered);
    expect(slow.writes()).toBe(0);
    expect(database.countEntries()).toBe(1);
    expect(other.events.map((e) => e.type)).toEqual(['executed']);
    expect(slow.events.map((e) => e.type)).toEqual(['replayed']);
    expect((slow.events[0] as { waitedMs: number }).waitedMs).toBeGreaterThan(0);
  });
});

describe('lease mode: ttlMs shorter than leaseMs (finding F1)', () => {
  function leaseApp(
    database: Pick<SqliteTestDatabase, 'store'>,
    clock: ReturnType<typeof manualClock>,
  ) {
    const hold = gate();
    let executions = 0;
    const idempotent = userIdempotent({
      store: database.store,
      mode: 'lease',
      ttlMs: 1_000,
      leaseMs: 10_000,
      clock: clock.now,
      inFlight: { timeoutMs: 0 },
    });
    const router = t.router({
      charge: idempotent.input(z.object({ amount: z.number() })).mutation(async () => {
        executions++;
        if (executions === 1) await hold.opened;
        return { execution: executions };
      }),
    });
    return {
      caller: t.createCallerFactory(router)({ user: 'u' }),
      hold,
      executions: () => executions,
    };
  }

  it('accepts it, keeps an in-progress record until its lease ends, and lets no duplicate run meanwhile', async ({
    database,
  }) => {
    const clock = manualClock();
    const start = clock.now();
    const first = leaseApp(database, clock);
    const second = leaseApp(database.openSecond(), clock);
    const idempotencyKey = newKey();
    const running = first.caller.charge({ idempotencyKey, amount: 1 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Claimed with an expiry a TTL after its lease: bound to its input until then.
    expect(
      await database.store.find({ scope: 'u', key: idempotencyKey, now: start }),
    ).toMatchObject({
      state: 'in_progress',
      leaseExpiresAt: start + 10_000,
      expiresAt: start + 11_000,
    });
    clock.advance(2_000); // past the TTL, within the lease
    await expect(second.caller.charge({ idempotencyKey, amount: 1 })).rejects.toMatchObject({
      code: 'CONFLICT',
      reason: 'IDEMPOTENCY_IN_PROGRESS',
    });
    expect(first.executions() + second.executions()).toBe(1);
    first.hold.open();
    expect(await running).toEqual({ execution: 1 });
    // Completed, the record is replayed for ttlMs from its completion, then stays a tombstone.
    expect(await second.caller.charge({ idempotencyKey, amount: 1 })).toEqual({ execution: 1 });
    expect(
      await database.store.find({ scope: 'u', key: idempotencyKey, now: clock.now() }),
    ).toMatchObject({
      state: 'completed',
      attempt: 1,
      responseExpiresAt: clock.now() + 1_000,
      expiresAt: clock.now() + 30 * 24 * 60 * 60 * 1000,
    });
  });

  it('claims with an expiry a TTL after the lease when the TTL is the longer one', async ({
    database,
  }) => {
    const clock = manualClock();
    const hold = gate();
    const idempotent = userIdempotent({
      store: database.store,
      mode: 'lease',
      ttlMs: 60_000,
      leaseMs: 10_000,
      clock: clock.now,
    });
    const caller = t.createCallerFactory(
      t.router({ charge: idempotent.mutation(() => hold.opened.then(() => 'ok')) }),
    )({ user: 'u' });
    const idempotencyKey = newKey();
    const running = caller.charge({ idempotencyKey });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(
      await database.store.find({ scope: 'u', key: idempotencyKey, now: clock.now() }),
    ).toMatchObject({ state: 'in_progress', expiresAt: clock.now() + 70_000 });
    hold.open();
    expect(await running).toBe('ok');
  });
});

describe('where the builder’s own steps run in the chain', () => {
  const schema = z.object({ amount: z.number().int().positive() });

  function chainApp(database: SqliteTestDatabase) {
    const seenByMiddleware: unknown[] = [];
    const idempotent = userIdempotent({
      store: database.store,
      mode: 'lease',
      maxResponseBytes: 100,
    });
    const router = t.router({
      // The key check fused into the first .input().
      pay: idempotent.input(schema).mutation(({ input }) => ({ input })),
      // No .input() at all: the resolver wrapper checks the key.
      bare: idempotent.mutation(({ input }) => ({ input })),
      // A .use() first: the key is checked before it, and it sees the key in its input.
      used: idempotent
        .use(({ input, next }) => {
          seenByMiddleware.push(input);
          return next();
        })
        .input(schema)
        .mutation(({ input }) => ({ input })),
      // The user's own per-procedure formatter sees idempotency errors first.
      formatted: idempotent
        .errors(({ error, shape }) =>
          error.code === 'UNPROCESSABLE_CONTENT'
            ? { ...shape, message: 'formatted by the user' }
            : undefined,
        )
        .input(schema)
        .mutation(({ input }) => (input.amount > 1 ? 'x'.repeat(200) : { input })),
    });
    return { router, seenByMiddleware };
  }

  it('runs each input parser once per call, after the key check, and the resolver once', async ({
    database,
  }) => {
    const parsed: unknown[] = [];
    let resolved = 0;
    const counted = (input: unknown) => {
      parsed.push(input);
      return schema.parse(input);
    };
    const idempotent = userIdempotent({ store: database.store });
    const caller = callerOf(
      {
        pay: idempotent
          .input(counted)
          .input(z.object({ note: z.string().optional() }))
          .mutation(({ input }) => {
            resolved++;
            return input;
          }),
      },
      'alice',
    );
    const idempotencyKey = newKey();
    expect(await caller.pay({ idempotencyKey, amount: 2 })).toEqual({ idempotencyKey, amount: 2 });
    expect(parsed).toEqual([{ idempotencyKey, amount: 2 }]);
    // A bad key is refused before any parser runs.
    await expect(caller.pay({ idempotencyKey: 'short', amount: 2 })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    expect(parsed).toHaveLength(1);
    // A replay parses its input (validation comes first) but does not resolve.
    await caller.pay({ idempotencyKey, amount: 2 });
    expect(parsed).toHaveLength(2);
    expect(resolved).toBe(1);
  });

  it('checks the key before the procedure’s own input parser, with the same 400 and reason', async ({
    database,
  }) => {
    const { router } = chainApp(database);
    await using server = await httpTestServer(router);
    for (const [body, problem] of [
      [{ amount: 'not a number' }, 'is missing'],
      [{ idempotencyKey: 'short', amount: -1 }, 'is too short (5 characters)'],
      ['a string', 'is missing because the input is not an object'],
      [[{ idempotencyKey: newKey(), amount: 1 }], 'is missing because the input is not an object'],
    ] as const) {
      const response = await server.mutate('pay', body);
      expect(response.status).toBe(400);
      const { error } = await response.json();
      expect(error.message).toBe(
        `\`idempotencyKey\` ${problem}: it must be a string of 16–255 characters (letters, digits and . _ : -)`,
      );
      expect(error.data).toMatchObject({ code: 'BAD_REQUEST', reason: 'IDEMPOTENCY_KEY_INVALID' });
    }
    // A valid key with invalid fields: the procedure's own 400, no reason, nothing stored.
    const invalid = await server.mutate('pay', { idempotencyKey: newKey(), amount: -1 });
    expect(invalid.status).toBe(400);
    expect((await invalid.json()).error.data.reason).toBeUndefined();
    expect(database.countRecords()).toBe(0);
  });

  it('hands the resolver the parsed input with the key, also when the schema strips unknown keys', async ({
    database,
  }) => {
    const { router, seenByMiddleware } = chainApp(database);
    const caller = t.createCallerFactory(router)({ user: 'alice' });
    const idempotencyKey = newKey();
    expect(await caller.pay({ idempotencyKey, amount: 1, extra: true } as never)).toEqual({
      input: { idempotencyKey, amount: 1 },
    });
    const bareKey = newKey();
    expect(await caller.bare({ idempotencyKey: bareKey })).toEqual({
      input: { idempotencyKey: bareKey },
    });
    const usedKey = newKey();
    expect(await caller.used({ idempotencyKey: usedKey, amount: 2 })).toEqual({
      input: { idempotencyKey: usedKey, amount: 2 },
    });
    expect(seenByMiddleware).toEqual([{ idempotencyKey: usedKey }]);
  });

  it('checks the key in the resolver wrapper or before a .use(): 400 with its reason, nothing runs', async ({
    database,
  }) => {
    const { router, seenByMiddleware } = chainApp(database);
    await using server = await httpTestServer(router);
    for (const path of ['bare', 'used']) {
      const response = await server.mutate(path, { amount: 1 });
      expect(response.status).toBe(400);
      const { error } = await response.json();
      expect(error.message).toContain('`idempotencyKey` is missing');
      expect(error.data).toMatchObject({ code: 'BAD_REQUEST', reason: 'IDEMPOTENCY_KEY_INVALID' });
    }
    expect(seenByMiddleware).toEqual([]);
    expect(database.countRecords()).toBe(0);
  });

  it('lets a user’s .errors() format idempotency errors first, and formats the rest itself', async ({
    database,
  }) => {
    const { router } = chainApp(database);
    await using server = await httpTestServer(router);
    const idempotencyKey = newKey();
    expect((await server.mutate('formatted', { idempotencyKey, amount: 1 })).status).toBe(200);
    // The user's formatter claims the 422…
    const reused = await server.mutate('formatted', { idempotencyKey, amount: 3 });
    expect(reused.status).toBe(422);
    expect((await reused.json()).error.message).toBe('formatted by the user');
    // …and leaves the others to ours: the reason is there.
    const tooLarge = await server.mutate('formatted', { idempotencyKey: newKey(), amount: 2 });
    expect(tooLarge.status).toBe(500);
    expect((await tooLarge.json()).error.data).toMatchObject({
      reason: 'IDEMPOTENCY_RESPONSE_NOT_STORABLE',
    });
    const badKey = await server.mutate('formatted', { amount: 1 });
    expect((await badKey.json()).error.data).toMatchObject({ reason: 'IDEMPOTENCY_KEY_INVALID' });
    // Without a user formatter, the 422 has ours.
    const key = newKey();
    await server.mutate('pay', { idempotencyKey: key, amount: 1 });
    const mismatch = await server.mutate('pay', { idempotencyKey: key, amount: 2 });
    expect(mismatch.status).toBe(422);
    expect((await mismatch.json()).error.data).toMatchObject({ reason: 'IDEMPOTENCY_KEY_REUSED' });
  });
});

describe('store statements are built once', () => {
  it('SQLite: no query is built after the store, on any path', async ({ database }) => {
    const clock = manualClock();
    const app = payApp(database, { clock: clock.now, ttlMs: 1_000 });
    const lease = userIdempotent({
      store: database.store,
      mode: 'lease',
      clock: clock.now,
    });
    let fail = true;
    const leaseCaller = callerOf(
      {
        notify: lease.mutation(() => {
          if (fail) throw new Error('gateway unreachable');
          return 'sent';
        }),
      },
      'alice',
    );
    const builders = (['insert', 'select', 'update', 'delete'] as const).map((method) =>
      vi.spyOn(database.db, method),
    );
    try {
      const idempotencyKey = newKey();
      await app.caller.pay({ idempotencyKey, label: 'a', amount: 1 }); // commit
      await app.caller.pay({ idempotencyKey, label: 'a', amount: 1 }); // replay
      await expect(
        app.caller.pay({ idempotencyKey: newKey(), label: 'a', amount: 5000 }),
      ).rejects.toThrow('insufficient funds'); // a final error, stored
      const leaseKey = newKey();
      await expect(leaseCaller.notify({ idempotencyKey: leaseKey })).rejects.toThrow(); // release
      fail = false;
      await leaseCaller.notify({ idempotencyKey: leaseKey }); // complete
      clock.advance(2_000);
      await database.store.purge({ now: clock.now(), limit: 1 });
      for (const builder of builders) expect(builder).not.toHaveBeenCalled();
    } finally {
      for (const builder of builders) builder.mockRestore();
    }
  });
});
