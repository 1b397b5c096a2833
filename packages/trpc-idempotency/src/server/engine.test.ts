/**
 * The engine on its own, on the in-memory store and a clock moved by hand:
 * every way a request can end (`settle`'s cases), each with its one event,
 * without tRPC's builder or a database. "Another process" is the same
 * records behind another store object: the engines share the records but
 * not their in-process registry, as two processes on one database would.
 */
import { TRPCError } from '@trpc/server';
import { describe, expect, it } from 'vitest';
import { type MemoryTransaction, memoryIdempotencyStore } from '../memory';
import type { AnyIdempotencyStore } from '../store/store';
import { createEngine, type EngineOptions, idempotentRequest, isReplayedError } from './engine';
import type { IdempotencyEvent } from './events';
import type {
  IdempotencyHandle,
  LeaseIdempotencyHandle,
  TransactionalIdempotencyHandle,
} from './handle';
import { createOutcomeCodec, isFinalErrorDefault } from './outcome';
import { KeyAnsweredElsewhere } from './signals';

type Commit = TransactionalIdempotencyHandle<MemoryTransaction, 'sync'>;

const T0 = Date.UTC(2026, 0, 1);
const LEASE_MS = 10_000;

/** A clock tests move by hand. */
function manualClock() {
  let now = T0;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

/** A gate a handler waits at until the test opens it. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** One engine (one process) on `store`, recording its events. */
function engineOn(
  store: AnyIdempotencyStore,
  clock: ReturnType<typeof manualClock>,
  overrides: Partial<EngineOptions> = {},
) {
  const events: IdempotencyEvent[] = [];
  const engine = createEngine({
    store,
    mode: 'transactional',
    codec: createOutcomeCodec({ maxResponseBytes: 1024 }),
    clock: clock.now,
    ttlMs: 60_000,
    horizonMs: 60_000,
    leaseMs: LEASE_MS,
    inFlight: { policy: 'wait', timeoutMs: 1_000, retryAfterMs: 100 },
    isFinalError: isFinalErrorDefault,
    onEvent: (event) => events.push(event),
    ...overrides,
  });
  return { ...engine, events, types: () => events.map((event) => event.type) };
}

/** The same records as `store`, as another process sees them: another registry of running executions. */
const inAnotherProcess = (store: AnyIdempotencyStore): AnyIdempotencyStore => ({ ...store });

/** A request arriving now. */
const call = (key = 'engine-key-0001', fingerprint = 'f1') =>
  idempotentRequest({ scope: 'tenant-1', key, path: 'ledger.transfer', fingerprint });

/** A transactional handler that commits `value`, counting its runs and its applied writes. */
function committing(value: unknown) {
  const counts = { runs: 0, applied: 0 };
  const handler = async (handle: IdempotencyHandle) => {
    counts.runs++;
    return (handle as Commit).commit((tx) => {
      tx.onCommit(() => {
        counts.applied++;
      });
      return value;
    });
  };
  return { handler, counts };
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );

describe('the engine, transactional mode', () => {
  it('executes once, then replays the stored outcome (a fresh value each time)', async () => {
    const clock = manualClock();
    const engine = engineOn(memoryIdempotencyStore(), clock);
    const { handler, counts } = committing({ paid: 1 });
    const first = await engine.execute(call(), handler);
    const again = await engine.execute(call(), handler);
    expect(first).toEqual({ value: { paid: 1 }, replayed: false });
    expect(again).toEqual({ value: { paid: 1 }, replayed: true });
    expect(again.value).not.toBe(first.value);
    expect(counts).toEqual({ runs: 1, applied: 1 });
    expect(engine.types()).toEqual(['executed', 'replayed']);
    expect(engine.events[1]).toMatchObject({ waitedMs: 0, scope: 'tenant-1' });
  });

  it('answers the first request with the decoded stored outcome, not the handler’s value', async () => {
    const engine = engineOn(memoryIdempotencyStore(), manualClock());
    const returned = { at: new Date(T0), dropped: undefined };
    const { value } = await engine.execute(call(), committing(returned).handler);
    // Without a transformer a Date is stored as its JSON string, as every replay gets it.
    expect(value).toEqual({ at: new Date(T0).toISOString() });
  });

  it('refuses a key reused with other input (422), whatever the record’s state', async () => {
    const engine = engineOn(memoryIdempotencyStore(), manualClock());
    await engine.execute(call(), committing(1).handler);
    const error = await failure(engine.execute(call(undefined, 'f2'), committing(2).handler));
    expect(error).toMatchObject({ code: 'UNPROCESSABLE_CONTENT' });
    expect(engine.types()).toEqual(['executed', 'mismatch']);
  });

  it('stores and replays a final error; a replayed error is marked as such', async () => {
    const engine = engineOn(memoryIdempotencyStore(), manualClock());
    let runs = 0;
    const refuse = async () => {
      runs++;
      throw new TRPCError({ code: 'PRECONDITION_FAILED', message: 'insufficient funds' });
    };
    const first = await failure(engine.execute(call(), refuse));
    const again = await failure(engine.execute(call(), refuse));
    expect(first).toMatchObject({ code: 'PRECONDITION_FAILED', message: 'insufficient funds' });
    expect(again).toMatchObject({ code: 'PRECONDITION_FAILED', message: 'insufficient funds' });
    expect([isReplayedError(first), isReplayedError(again)]).toEqual([false, true]);
    expect(runs).toBe(1);
    expect(engine.types()).toEqual(['executed', 'replayed']);
  });

  it('releases the key on a transient error: the retry executes again', async () => {
    const engine = engineOn(memoryIdempotencyStore(), manualClock());
    const transient = new Error('gateway timeout');
    expect(
      await failure(
        engine.execute(call(), async () => {
          throw transient;
        }),
      ),
    ).toBe(transient);
    expect(await engine.execute(call(), committing(2).handler)).toEqual({
      value: 2,
      replayed: false,
    });
    expect(engine.types()).toEqual(['released', 'executed']);
  });

  it('lets an identical duplicate in this process join the running execution', async () => {
    const engine = engineOn(memoryIdempotencyStore(), manualClock());
    const hold = gate();
    const { handler, counts } = committing('done');
    const first = engine.execute(call(), async (handle) => {
      await hold.opened;
      return handler(handle);
    });
    const joined = engine.execute(call(), handler);
    hold.open();
    expect(await first).toEqual({ value: 'done', replayed: false });
    expect(await joined).toEqual({ value: 'done', replayed: true });
    expect(counts.runs).toBe(1);
    expect(engine.types()).toEqual(['executed', 'joined']);
  });

  it('settles a duplicate in another process at its commit: KeyAnsweredElsewhere, then a replay', async () => {
    const clock = manualClock();
    const store = memoryIdempotencyStore();
    const slow = engineOn(store, clock);
    const other = engineOn(inAnotherProcess(store), clock);
    const hold = gate();
    const seen: unknown[] = [];
    const running = slow.execute(call(), async (handle) => {
      await hold.opened;
      try {
        return await (handle as Commit).commit(() => 'slow');
      } catch (error) {
        seen.push(error);
        return 'swallowed';
      }
    });
    expect(await other.execute(call(), committing('fast').handler)).toEqual({
      value: 'fast',
      replayed: false,
    });
    hold.open();
    expect(await running).toEqual({ value: 'fast', replayed: true });
    expect(seen).toEqual([expect.any(KeyAnsweredElsewhere)]);
    expect(slow.types()).toEqual(['replayed']);
    expect((slow.events[0] as { waitedMs: number }).waitedMs).toBeGreaterThanOrEqual(0);
  });

  it('fails with a 500 that names the store, and stores nothing, when the store fails', async () => {
    const store = memoryIdempotencyStore();
    const broken: AnyIdempotencyStore = {
      ...store,
      find: async () => {
        throw new Error('connection refused (password=secret)');
      },
    };
    const engine = engineOn(broken, manualClock());
    const error = await failure(engine.execute(call(), committing(1).handler));
    expect(error).toMatchObject({ code: 'INTERNAL_SERVER_ERROR' });
    expect((error as Error).message).not.toContain('secret');
    expect(engine.events).toMatchObject([
      { type: 'failed', reason: 'IDEMPOTENCY_STORE_UNAVAILABLE' },
    ]);
    expect(store.size).toBe(0);
  });

  it('fails with a 500 when the outcome cannot be stored, and stores nothing', async () => {
    const store = memoryIdempotencyStore();
    const engine = engineOn(store, manualClock());
    const { handler, counts } = committing('x'.repeat(2048));
    const error = await failure(engine.execute(call(), handler));
    expect(error).toMatchObject({ code: 'INTERNAL_SERVER_ERROR' });
    expect(engine.events).toMatchObject([
      { type: 'failed', reason: 'IDEMPOTENCY_RESPONSE_NOT_STORABLE' },
    ]);
    expect(counts.applied).toBe(0);
    expect(store.size).toBe(0);
  });

  it('answers a tombstone with the same input IDEMPOTENCY_OUTCOME_EXPIRED until the horizon, then executes anew', async () => {
    const clock = manualClock();
    const engine = engineOn(memoryIdempotencyStore(), clock, { horizonMs: 120_000 });
    await engine.execute(call(), committing(1).handler);
    clock.advance(60_000);
    const error = await failure(engine.execute(call(), committing(2).handler));
    expect(error).toMatchObject({ code: 'NOT_FOUND', completedAt: T0, horizonMs: 120_000 });
    expect(
      await failure(engine.execute(call(undefined, 'f2'), committing(3).handler)),
    ).toMatchObject({ code: 'UNPROCESSABLE_CONTENT' });
    clock.advance(60_000);
    expect(await engine.execute(call(), committing(4).handler)).toEqual({
      value: 4,
      replayed: false,
    });
    expect(engine.types()).toEqual(['executed', 'expired', 'mismatch', 'executed']);
  });

  it('executes an expired key anew', async () => {
    const clock = manualClock();
    const engine = engineOn(memoryIdempotencyStore(), clock);
    await engine.execute(call(), committing(1).handler);
    clock.advance(60_000);
    expect(await engine.execute(call(), committing(2).handler)).toEqual({
      value: 2,
      replayed: false,
    });
  });
});

describe('the engine, lease mode', () => {
  const lease = { mode: 'lease' } as const;

  /** One store seen from two processes on one clock, and a gate for the first one's handler. */
  function twoProcesses(retryOverrides: Partial<EngineOptions> = {}) {
    const clock = manualClock();
    const store = memoryIdempotencyStore();
    return {
      clock,
      store,
      first: engineOn(store, clock, lease),
      retry: engineOn(inAnotherProcess(store), clock, { ...lease, ...retryOverrides }),
      hold: gate(),
    };
  }

  it('a retry that arrives while the first runs in another process waits, then replays its outcome', async () => {
    const { store, first, retry, hold } = twoProcesses();
    let runs = 0;
    const running = first.execute(call(), async () => {
      runs++;
      await hold.opened;
      return 'charged';
    });
    await expect.poll(() => store.size).toBe(1);
    const retried = retry.execute(call(), async () => {
      runs++;
      return 'twice';
    });
    // The retry found the record in progress and polls it; the first completes meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 30));
    hold.open();
    expect(await running).toEqual({ value: 'charged', replayed: false });
    expect(await retried).toEqual({ value: 'charged', replayed: true });
    expect(runs).toBe(1);
    expect(retry.events).toMatchObject([{ type: 'replayed', outcome: 'result' }]);
    expect((retry.events[0] as { waitedMs: number }).waitedMs).toBeGreaterThan(0);
  });

  it('answers 409 with a retry hint when the other process is still running past the wait bound', async () => {
    const { store, first, retry, hold } = twoProcesses({
      inFlight: { policy: 'reject', timeoutMs: 0, retryAfterMs: 100 },
    });
    const running = first.execute(call(), async () => {
      await hold.opened;
      return 1;
    });
    await expect.poll(() => store.size).toBe(1);
    const error = await failure(retry.execute(call(), async () => 2));
    expect(error).toMatchObject({ code: 'CONFLICT' });
    expect(retry.events).toMatchObject([{ type: 'conflict', retryAfterMs: 100 }]);
    hold.open();
    await running;
  });

  it('takes a crashed execution over after its lease, resuming after its finished steps; the old owner is fenced', async () => {
    const { clock, first: crashed, retry, hold } = twoProcesses();
    const ran: string[] = [];
    const handler = async (handle: IdempotencyHandle) => {
      const h = handle as LeaseIdempotencyHandle;
      const reserved = await h.step('reserve', () => {
        ran.push(`reserve@${h.attempt}`);
        return 'r1';
      });
      if (h.attempt === 1) await hold.opened;
      return `${reserved}:${h.attempt}`;
    };
    const stalled = crashed.execute(call(), handler);
    await expect.poll(() => ran).toEqual(['reserve@1']);
    clock.advance(LEASE_MS);
    expect(await retry.execute(call(), handler)).toEqual({ value: 'r1:2', replayed: false });
    expect(retry.events).toMatchObject([
      { type: 'executed', attempt: 2, takenOver: true, stepsRun: [], stepsSkipped: ['reserve'] },
    ]);
    hold.open();
    expect(await failure(stalled)).toMatchObject({ code: 'CONFLICT' });
    expect(crashed.events).toMatchObject([{ type: 'fenced', attempt: 1 }]);
    expect(ran).toEqual(['reserve@1']);
  });

  it('does not let a duplicate in this process join an execution whose lease lapsed', async () => {
    const clock = manualClock();
    const store = memoryIdempotencyStore();
    const engine = engineOn(store, clock, lease);
    const hold = gate();
    const stalled = engine.execute(call(), async () => {
      await hold.opened;
      return 'late';
    });
    await expect.poll(() => store.size).toBe(1);
    clock.advance(LEASE_MS);
    expect(await engine.execute(call(), async () => 'took over')).toEqual({
      value: 'took over',
      replayed: false,
    });
    hold.open();
    expect(await failure(stalled)).toMatchObject({ code: 'CONFLICT' });
    expect(engine.types()).toEqual(['executed', 'fenced']);
  });

  it('keeps a renewed lease joinable in this process', async () => {
    const clock = manualClock();
    const engine = engineOn(memoryIdempotencyStore(), clock, lease);
    const hold = gate();
    const renewed = gate();
    const first = engine.execute(call(), async (handle) => {
      clock.advance(LEASE_MS - 1);
      await (handle as LeaseIdempotencyHandle).renewLease();
      renewed.open();
      await hold.opened;
      return 'renewed';
    });
    await renewed.opened;
    clock.advance(LEASE_MS - 1);
    const joined = engine.execute(call(), async () => 'second');
    hold.open();
    expect(await first).toEqual({ value: 'renewed', replayed: false });
    expect(await joined).toEqual({ value: 'renewed', replayed: true });
    expect(engine.types()).toEqual(['executed', 'joined']);
  });
});
