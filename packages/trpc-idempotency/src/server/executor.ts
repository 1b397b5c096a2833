import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { getTRPCErrorFromUnknown } from '@trpc/server';
import { inProgressError, keyReusedError, responseNotStorableError } from './errors';
import type { IdempotencyEventHandler } from './events';
import type { OutcomeCodec } from './outcome';
import type { IdempotencyRecord, StoredOutcome } from './record';
import { type AnyIdempotencyStore, type ClaimResult, LeaseLostError } from './store';

/** SPEC 3.3: what a request does when its key is in progress elsewhere. */
export interface InFlightOptions {
  /** `wait` (default): poll until the owner finishes, up to `timeoutMs`; `reject`: CONFLICT at once. */
  policy?: 'wait' | 'reject';
  /** Longest wait for another process's execution, in ms. Default 5000. */
  timeoutMs?: number;
  /** Upper bound of the `retryAfterMs` hint in a CONFLICT, in ms. Default 1000. */
  retryAfterMs?: number;
}

/** Everything the state machine needs, resolved from the builder's options. */
export interface ExecutorOptions {
  store: AnyIdempotencyStore;
  /** Transactional executions go through `store.inTransaction` when the store has it. */
  transactional: boolean;
  codec: OutcomeCodec;
  clock: () => number;
  ttlMs: number;
  leaseMs: number;
  inFlight: Required<InFlightOptions>;
  isFinalError: (error: unknown) => boolean;
  onEvent: IdempotencyEventHandler | undefined;
}

/** One idempotent request, identified and fingerprinted. */
export interface IdempotentCall {
  scope: string;
  key: string;
  path: string;
  fingerprint: string;
}

/**
 * What the handler sees as `ctx.idempotency`.
 * @see README.md#the-handler
 */
export interface IdempotencyHandle {
  /** The client's idempotency key. */
  readonly key: string;
  /** The scope the record lives in (from the `scope` option). */
  readonly scope: string;
  /** 1 for the first execution, higher after lease take-overs. */
  readonly attempt: number;
  /**
   * Extends this execution's lease by `leaseMs` from now. Long-running
   * handlers call it before their lease runs out; it rejects if the lease was
   * already lost to another owner (then stop: the other owner answers).
   */
  renewLease(): Promise<void>;
  /**
   * A stable key for a downstream service (a payment gateway, an email API)
   * derived from this scope, key and `namespace`: pass it on so retries of the
   * downstream call are deduplicated there too (SPEC 5.4).
   */
  downstreamKey(namespace: string): string;
}

/**
 * The handle of a transactional execution. `commit` runs the handler's
 * writes and completes the record in one transaction (SPEC 5.1).
 */
export interface TransactionalIdempotencyHandle<TTx, TKind extends 'sync' | 'async'>
  extends IdempotencyHandle {
  /**
   * Runs `write` inside one database transaction that also stores its result
   * as this key's outcome: both commit, or neither does. Call it once, and
   * return its result from the handler. With a `sync` store (SQLite) `write`
   * must be synchronous: do the async preparation before calling `commit`.
   */
  commit<R>(
    write: (tx: TTx) => R,
    ...syncOnly: TKind extends 'sync'
      ? [R] extends [never]
        ? []
        : [R] extends [PromiseLike<unknown>]
          ? ['commit() runs a synchronous SQLite transaction: do async work before calling it']
          : []
      : []
  ): Promise<Awaited<R>>;
}

/**
 * What {@link createExecutor}'s `execute` resolves to: the call's value, and
 * whether it was answered from a stored outcome (a replay, also after waiting
 * for or joining another request with the key) rather than by this request's
 * own execution. A stored error is thrown instead; {@link isReplayedError}
 * tells whether it was replayed.
 */
export interface ExecutionAnswer {
  value: unknown;
  replayed: boolean;
}

const replayedErrors = new WeakSet<object>();

/** Whether `execute` threw `error` as the replay of a stored error outcome. */
export function isReplayedError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && replayedErrors.has(error);
}

/** Raised inside the commit transaction so it rolls back; mapped to SPEC 4.5's error. */
class OutcomeNotStorableError extends Error {
  override readonly name = 'OutcomeNotStorableError';
}

/** The outcome a request got, and whether it replays someone else's. */
interface Acquired {
  outcome: StoredOutcome;
  replayed: boolean;
}

interface Running {
  path: string;
  fingerprint: string;
  outcome: Promise<StoredOutcome>;
}

// Executions running in this process, per store, so duplicates join instead of polling.
const runningByStore = new WeakMap<AnyIdempotencyStore, Map<string, Running>>();

const processId = randomUUID().slice(0, 8);
let ownerSeq = 0;
const nextOwner = () => `${processId}-${(++ownerSeq).toString(36)}`;

const POLL_FIRST_MS = 10;
const POLL_MAX_MS = 250;
const RETRY_AFTER_MIN_MS = 50;

/** The idempotency state machine (SPEC 3), written once above any store. */
export function createExecutor(opts: ExecutorOptions) {
  const { store, codec, clock } = opts;
  let running = runningByStore.get(store);
  if (!running) {
    running = new Map();
    runningByStore.set(store, running);
  }
  const inProcess = running;
  // An in-progress record lives at least as long as its lease. `ttlMs` is how
  // long a *completed* record is replayed, `leaseMs` how long an execution may
  // run before a retry takes it over: independent settings, and a short TTL
  // with a long lease is legitimate (replays for a minute, a slow payment call
  // of five), so the builder accepts ttlMs < leaseMs rather than refusing it.
  // Stores never replace or purge a record whose lease is live anyway; this
  // keeps such a record visible to lookups too, as `renewLease` does.
  const inProgressTtlMs = Math.max(opts.ttlMs, opts.leaseMs);

  // Called as `emit?.(…)`: without a handler the event object is never even built.
  const emit: IdempotencyEventHandler | undefined = opts.onEvent;

  /** The value of a stored outcome (or its error, thrown), and whether it is a replay. */
  function answer(outcome: StoredOutcome, replayed: boolean): ExecutionAnswer {
    try {
      return { value: codec.replay(outcome), replayed };
    } catch (error) {
      if (replayed && typeof error === 'object' && error !== null) replayedErrors.add(error);
      throw error;
    }
  }

  /** Run `handler` at most once for `call`, answering every duplicate identically. */
  async function execute(
    call: IdempotentCall,
    handler: (handle: IdempotencyHandle & { commit: unknown }) => Promise<unknown>,
  ): Promise<ExecutionAnswer> {
    const arrivedAt = performance.now();
    const id = `${call.scope}\u0000${call.key}`;
    const joined = inProcess.get(id);
    if (joined) {
      if (joined.path !== call.path || joined.fingerprint !== call.fingerprint) {
        emit?.({ type: 'mismatch', ...eventBase(call, arrivedAt) });
        throw keyReusedError({ key: call.key, path: call.path, firstPath: joined.path });
      }
      // The in-flight policy holds for a duplicate in this process too (SPEC 3.3).
      const outcome =
        opts.inFlight.policy === 'reject'
          ? undefined
          : await within(joined.outcome, opts.inFlight.timeoutMs);
      if (!outcome) {
        const retryAfterMs = opts.inFlight.retryAfterMs;
        emit?.({ type: 'conflict', retryAfterMs, ...eventBase(call, arrivedAt) });
        throw inProgressError({ retryAfterMs });
      }
      emit?.({ type: 'joined', ...eventBase(call, arrivedAt) });
      return answer(outcome, true);
    }

    // Registered before the first `await`, so a duplicate arriving from now on joins.
    let settle!: { resolve: (o: StoredOutcome) => void; reject: (e: unknown) => void };
    const outcome = new Promise<StoredOutcome>((resolve, reject) => {
      settle = { resolve, reject };
    });
    // Nobody may have joined: a rejection without listeners must not crash the process.
    outcome.catch(() => {});
    inProcess.set(id, { path: call.path, fingerprint: call.fingerprint, outcome });
    try {
      // Fast path: a read, where a claim is a write (SQLite's write lock; on
      // Postgres a transaction of its own). A completed record is immutable
      // until it expires or is purged, so answering with what this read saw is
      // what a claim at this instant would answer too. Anything else (absent,
      // in progress, expired) takes the claim path, so correctness never
      // depends on this read.
      const known = await store.find({ scope: call.scope, key: call.key, now: clock() });
      let acquired: Acquired;
      if (known?.state === 'completed' && known.outcome) {
        answerFromCompleted(call, known, known.outcome, arrivedAt, 0);
        acquired = { outcome: known.outcome, replayed: true };
      } else {
        acquired =
          opts.transactional && store.inTransaction
            ? await store.inTransaction((txStore) => acquire(txStore, call, handler, arrivedAt))
            : await acquire(store, call, handler, arrivedAt);
      }
      settle.resolve(acquired.outcome);
      return answer(acquired.outcome, acquired.replayed);
    } catch (error) {
      settle.reject(error);
      throw error;
    } finally {
      inProcess.delete(id);
    }
  }

  /** Claim the record, or wait for its owner, or replay it (SPEC 3.1–3.4). */
  async function acquire(
    store: AnyIdempotencyStore,
    call: IdempotentCall,
    handler: (handle: IdempotencyHandle & { commit: unknown }) => Promise<unknown>,
    arrivedAt: number,
  ): Promise<Acquired> {
    let pollMs = POLL_FIRST_MS;
    for (;;) {
      const now = clock();
      const claim = await store.claim({
        ...call,
        owner: nextOwner(),
        now,
        leaseExpiresAt: now + opts.leaseMs,
        expiresAt: now + inProgressTtlMs,
        maxWaitMs:
          opts.inFlight.policy === 'reject'
            ? 0
            : Math.max(0, opts.inFlight.timeoutMs - (performance.now() - arrivedAt)),
      });
      if (claim.acquired) {
        return { outcome: await run(store, call, claim, handler, arrivedAt), replayed: false };
      }

      const { record } = claim;
      if (record.state === 'completed' && record.outcome) {
        answerFromCompleted(
          call,
          record,
          record.outcome,
          arrivedAt,
          waitedSince(arrivedAt, pollMs),
        );
        return { outcome: record.outcome, replayed: true };
      }
      if (record.path !== call.path || record.fingerprint !== call.fingerprint) {
        emit?.({ type: 'mismatch', ...eventBase(call, arrivedAt) });
        throw keyReusedError({ key: call.key, path: call.path, firstPath: record.path });
      }

      // In progress in another process: poll with backoff, within the wait bound.
      const waited = performance.now() - arrivedAt;
      const remaining = opts.inFlight.timeoutMs - waited;
      if (opts.inFlight.policy === 'reject' || remaining <= 0) {
        const retryAfterMs = retryHint(record, clock());
        emit?.({ type: 'conflict', retryAfterMs, ...eventBase(call, arrivedAt) });
        throw inProgressError({ retryAfterMs });
      }
      await sleep(Math.min(pollMs, remaining));
      pollMs = Math.min(pollMs * 2, POLL_MAX_MS);
    }
  }

  /**
   * A completed record answers the request: a `422` if it was stored for
   * another procedure or input (SPEC 2.3), else its outcome is replayed
   * (SPEC 3.2) and this emits the `replayed` event.
   */
  function answerFromCompleted(
    call: IdempotentCall,
    record: IdempotencyRecord,
    outcome: StoredOutcome,
    arrivedAt: number,
    waitedMs: number,
  ) {
    if (record.path !== call.path || record.fingerprint !== call.fingerprint) {
      emit?.({ type: 'mismatch', ...eventBase(call, arrivedAt) });
      throw keyReusedError({ key: call.key, path: call.path, firstPath: record.path });
    }
    emit?.({
      type: 'replayed',
      outcome: outcome.kind,
      waitedMs,
      ...eventBase(call, arrivedAt),
    });
  }

  function retryHint(record: IdempotencyRecord, now: number) {
    const leaseLeft = record.leaseExpiresAt - now;
    return Math.round(
      Math.max(RETRY_AFTER_MIN_MS, Math.min(leaseLeft, opts.inFlight.retryAfterMs)),
    );
  }

  /** This request owns the record: run the handler and store its outcome. */
  async function run(
    store: AnyIdempotencyStore,
    call: IdempotentCall,
    claim: Extract<ClaimResult, { acquired: true }>,
    handler: (handle: IdempotencyHandle & { commit: unknown }) => Promise<unknown>,
    arrivedAt: number,
  ): Promise<StoredOutcome> {
    const { owner, attempt } = claim.record;
    const fenced = { scope: call.scope, key: call.key, owner };
    const waitedMs = performance.now() - arrivedAt;
    let committed: StoredOutcome | undefined;
    let committing = false;

    const handle = {
      key: call.key,
      scope: call.scope,
      attempt,
      async renewLease() {
        const renewed = await store.renewLease({
          ...fenced,
          leaseExpiresAt: clock() + opts.leaseMs,
        });
        if (!renewed) throw new LeaseLostError(call);
      },
      downstreamKey(namespace: string) {
        return createHash('sha256')
          .update(`${call.scope}\u0000${call.key}\u0000${namespace}`)
          .digest('base64url');
      },
      async commit(write: (tx: unknown) => unknown) {
        if (committed || committing) {
          throw new Error('commit() may be called only once per execution');
        }
        committing = true;
        const now = clock();
        let encoded: StoredOutcome | undefined;
        const result = await store.commit(
          { ...fenced, now, expiresAt: now + opts.ttlMs },
          write,
          (value) => {
            if (isThenable(value)) {
              throw new TypeError(
                'the commit() callback returned a promise: it runs inside a synchronous transaction, so do async work before calling commit()',
              );
            }
            try {
              encoded = codec.encodeResult(value);
            } catch (cause) {
              throw new OutcomeNotStorableError(errorMessage(cause), { cause });
            }
            return encoded;
          },
        );
        // Only now is it durable: a rolled-back commit must not count as the outcome.
        committed = encoded;
        return result;
      },
    };

    const executed = (outcome: StoredOutcome) => {
      emit?.({
        type: 'executed',
        outcome: outcome.kind,
        attempt,
        takenOver: claim.takenOver,
        waitedMs,
        ...eventBase(call, arrivedAt),
      });
      return outcome;
    };

    let value: unknown;
    try {
      value = await handler(handle);
    } catch (error) {
      // Effects and outcome already committed together: that is the answer, as for every replay.
      if (committed) return executed(committed);
      return executed(await failed(store, call, fenced, attempt, error, arrivedAt));
    }
    if (committed) return executed(committed);

    let outcome: StoredOutcome;
    try {
      outcome = codec.encodeResult(value);
    } catch (cause) {
      await releaseQuietly(store, fenced);
      throw responseNotStorableError({ path: call.path, cause });
    }
    await completeOrFence(store, call, fenced, attempt, outcome, arrivedAt);
    return executed(outcome);
  }

  /** SPEC 4.2–4.4: store a final error, release on a transient one. */
  async function failed(
    store: AnyIdempotencyStore,
    call: IdempotentCall,
    fenced: { scope: string; key: string; owner: string },
    attempt: number,
    error: unknown,
    arrivedAt: number,
  ): Promise<StoredOutcome> {
    if (error instanceof LeaseLostError) {
      emit?.({ type: 'fenced', attempt, ...eventBase(call, arrivedAt) });
      throw inProgressError({ retryAfterMs: opts.inFlight.retryAfterMs });
    }
    if (error instanceof OutcomeNotStorableError) {
      await releaseQuietly(store, fenced);
      throw responseNotStorableError({ path: call.path, cause: error.cause });
    }
    if (!opts.isFinalError(error)) {
      await releaseQuietly(store, fenced);
      emit?.({ type: 'released', attempt, ...eventBase(call, arrivedAt) });
      throw error;
    }
    let outcome: StoredOutcome;
    try {
      outcome = codec.encodeError(getTRPCErrorFromUnknown(error));
    } catch (cause) {
      await releaseQuietly(store, fenced);
      throw responseNotStorableError({ path: call.path, cause });
    }
    await completeOrFence(store, call, fenced, attempt, outcome, arrivedAt);
    return outcome;
  }

  async function completeOrFence(
    store: AnyIdempotencyStore,
    call: IdempotentCall,
    fenced: { scope: string; key: string; owner: string },
    attempt: number,
    outcome: StoredOutcome,
    arrivedAt: number,
  ) {
    const now = clock();
    const completed = await store.complete({
      ...fenced,
      outcome,
      now,
      expiresAt: now + opts.ttlMs,
    });
    if (!completed) {
      // A new owner took over after our lease ran out: its outcome is the one clients get.
      emit?.({ type: 'fenced', attempt, ...eventBase(call, arrivedAt) });
      throw inProgressError({ retryAfterMs: opts.inFlight.retryAfterMs });
    }
  }

  /**
   * Releasing is best effort: if the store is unreachable the record stays
   * in progress until its lease expires and a retry takes it over, which is
   * the same recovery as a crash. The caller's own error is the one to report.
   */
  async function releaseQuietly(
    store: AnyIdempotencyStore,
    fenced: { scope: string; key: string; owner: string },
  ) {
    try {
      await store.release(fenced);
    } catch {
      // see above: the lease bounds how long the key stays blocked
    }
  }

  return { execute };
}

/** The promise's value, or `undefined` if it has not settled within `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  const timer = new AbortController();
  const timeout = sleep(ms, undefined, { signal: timer.signal }).catch(() => undefined);
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    timer.abort();
  }
}

function eventBase(call: IdempotentCall, arrivedAt: number) {
  return { scope: call.scope, path: call.path, durationMs: performance.now() - arrivedAt };
}

function waitedSince(arrivedAt: number, pollMs: number) {
  return pollMs === POLL_FIRST_MS ? 0 : performance.now() - arrivedAt;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function errorMessage(cause: unknown) {
  return cause instanceof Error ? cause.message : String(cause);
}
