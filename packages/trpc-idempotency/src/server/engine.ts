/**
 * The idempotency state machine, written once above any store. Read it top
 * to bottom, as one request goes through it:
 *
 * 1. `execute`: an identical request already running in this process is
 *    joined (`join`); otherwise the request is registered so later
 *    duplicates join it, and
 * 2. `decide` looks the key up and follows the record: a completed one is
 *    replayed, one first used with other input is a mismatch, one in
 *    progress elsewhere is waited for (`waitForOwner`); a free key runs the
 *    handler, in transactional mode (`transactionalRun.ts`) or under a lease
 *    (`leaseRun.ts`). Every path ends in a {@link Result}; the runs return
 *    theirs and never answer.
 * 3. `settle` is the one place a result becomes an answer: it emits the
 *    request's one event and returns the stored outcome or throws the error.
 * 4. `answer` decodes the stored outcome into the value the caller gets.
 *
 * A retry that arrives while the first request runs in another process
 * finds its record in progress (`decide`), polls it (`waitForOwner`) and
 * replays its outcome once it completes; if the first process crashed, its
 * lease lapses and the retry takes the record over (lease mode); if the wait
 * bound passes first, it gets a 409 with a retry hint.
 * @see ../../../../docs/ARCHITECTURE.md
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { isReplaceable, isTombstone } from '../store/lifecycle';
import type { IdempotencyRecord, StoredOutcome } from '../store/record';
import {
  IdempotencyError,
  inProgressError,
  keyReusedError,
  outcomeExpiredError,
  responseNotStorableError,
  storeUnavailableError,
} from './errors';
import type { IdempotencyEvent } from './events';
import type { IdempotencyHandle, LeaseIdempotencyHandle } from './handle';
import { createInProcessRegistry, type RegisteredExecution } from './inProcess';
import { runLeased } from './leaseRun';
import { type EngineOptions, type IdempotentRequest, type RunResult, remainingWaitMs } from './run';
import {
  asStoreFailure,
  isLayerFailure,
  type LayerFailure,
  StoreFailure,
  viaStore,
} from './signals';
import type { CallTelemetry } from './telemetry';
import { runTransactional } from './transactionalRun';

export type { EngineOptions, IdempotentRequest, InFlightOptions } from './run';
export { idempotentRequest } from './run';

/**
 * How a request was answered: the call's value, and whether it was answered
 * from a stored outcome (a replay, also after waiting for or joining another
 * request with the key) rather than by this request's own execution. A stored
 * error is thrown instead; {@link isReplayedError} tells whether it was replayed.
 */
export interface ExecutionAnswer {
  value: unknown;
  replayed: boolean;
}

/**
 * What a request came to, whichever way it went. `settle` answers each kind;
 * a new way for a request to end is a new kind here and a case there.
 */
type Result =
  /** The handler ran here; `waited` if it first waited for another execution of the key. */
  | (Extract<RunResult, { kind: 'executed' }> & { waited?: boolean })
  /** A completed record with this request's path and input. */
  | { kind: 'replayed'; record: IdempotencyRecord; waited: boolean }
  /** A tombstone with this request's path and input: it ran, its response is gone (SPEC 3.7). */
  | { kind: 'expired'; completedAt: number; record: IdempotencyRecord }
  /** The identical execution this request joined stored `outcome`… */
  | { kind: 'joined'; outcome: StoredOutcome }
  /** …or answered with an error that stored nothing. */
  | { kind: 'joinedFailed'; error: unknown }
  | { kind: 'conflict'; retryAfterMs: number }
  /** The key was first used with another path or input. */
  | { kind: 'mismatch'; firstPath: string }
  | Extract<RunResult, { kind: 'released' | 'fenced' }>
  /** The layer itself failed: the store, or an outcome that cannot be stored. */
  | { kind: 'failed'; failure: LayerFailure };

/** An answer with a stored outcome, before it is decoded. */
interface Settlement {
  outcome: StoredOutcome;
  /** Answered without running the handler in this request. */
  replayed: boolean;
}

const replayedErrors = new WeakSet<object>();

/** Whether `execute` threw `error` as the replay of a stored error outcome. */
export function isReplayedError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && replayedErrors.has(error);
}

const POLL_FIRST_MS = 10;
const POLL_MAX_MS = 250;
const RETRY_AFTER_MIN_MS = 50;
const processId = randomUUID().slice(0, 8);
let ownerSeq = 0;

/** The engine of one idempotent builder. */
export function createEngine(opts: EngineOptions) {
  const { store, clock } = opts;
  const running = createInProcessRegistry(store, clock);

  /**
   * Run `handler` at most once for `request`'s key, answering every duplicate
   * identically. Not `async` itself: without telemetry the request goes
   * straight on, one promise fewer on every call (BENCHMARKS.md).
   */
  function execute(
    request: IdempotentRequest,
    handler: (handle: IdempotencyHandle) => Promise<unknown>,
  ): Promise<ExecutionAnswer> {
    const loading = opts.telemetry?.ready();
    if (loading) return loading.then(() => execute(request, handler));
    const telemetry = opts.telemetry?.startCall({
      path: request.path,
      scope: request.callerScope,
      key: request.key,
    });
    if (!telemetry) return executeRequest(request, handler);
    // shape: overrides the request's declared `telemetry` (`idempotentRequest`)
    return executeTraced({ ...request, telemetry }, handler);
  }

  /** `execute` with the call's span active: the handler's own spans are children of it. */
  async function executeTraced(
    request: IdempotentRequest & { telemetry: CallTelemetry },
    handler: (handle: IdempotencyHandle) => Promise<unknown>,
  ): Promise<ExecutionAnswer> {
    try {
      return await request.telemetry.run(() => executeRequest(request, handler));
    } catch (error) {
      request.telemetry.abandon(error);
      throw error;
    }
  }

  /** `execute`, with the request's telemetry (if any) on it. */
  async function executeRequest(
    request: IdempotentRequest,
    handler: (handle: IdempotencyHandle) => Promise<unknown>,
  ): Promise<ExecutionAnswer> {
    const joined = running.find(request);
    if (joined) {
      // Answered by the running execution, as a replay is by the stored one: its span is the link.
      request.telemetry?.answeredFrom({ traceContext: joined.traceContext });
      return answer(settle(request, await join(request, joined.outcome)));
    }

    const execution = running.start(request);
    let settled: Settlement;
    try {
      settled = settle(request, await decide(request, handler, execution));
    } catch (error) {
      execution.fail(error);
      throw error;
    } finally {
      execution.end();
    }
    execution.succeed(settled.outcome);
    return answer(settled);
  }

  /** Look the key up, then follow its record: replay it, wait for its owner, or run the handler. */
  async function decide(
    request: IdempotentRequest,
    handler: (handle: IdempotencyHandle) => Promise<unknown>,
    execution: RegisteredExecution,
  ): Promise<Result> {
    try {
      let waited = false;
      // A read first, where a claim or commit is a write: a completed record is
      // immutable until it expires, so a retry is answered without a write lock.
      let record = await find(request);
      for (let round = 1; ; round++) {
        if (record && !isReplaceable(record, at(request))) {
          const answered = resultOfRecord(request, record, waited);
          if (answered) return answered;
          const ended = await waitForOwner(request, record);
          if (ended.kind === 'conflict') return ended;
          waited = true;
          record = ended.record;
          continue;
        }
        if (opts.mode === 'transactional') {
          const run = await runTransactional(opts, { request, owner: nextOwner(), handler });
          switch (run.kind) {
            case 'held':
              // Completed elsewhere first: replayed exactly as a later retry would be.
              return (
                resultOfRecord(request, run.record, true) ?? {
                  kind: 'conflict',
                  retryAfterMs: retryHint(run.record),
                }
              );
            case 'busy':
              return { kind: 'conflict', retryAfterMs: retryHint() };
            case 'executed':
              // shape: only after waiting for another execution
              return waited ? { ...run, waited } : run;
            default:
              return run;
          }
        }
        const now = clock();
        const leaseExpiresAt = now + opts.leaseMs;
        const claim = await viaStore(() =>
          store.claim({
            scope: request.scope,
            key: request.key,
            path: request.path,
            fingerprint: request.fingerprint,
            owner: nextOwner(),
            now,
            leaseExpiresAt,
            expiresAt: leaseExpiresAt + opts.ttlMs,
          }),
        );
        if (claim.acquired) {
          execution.holdsLeaseUntil(claim.record.leaseExpiresAt);
          const run = await runLeased(opts, {
            request,
            claimed: claim,
            handler: handler as (handle: LeaseIdempotencyHandle) => Promise<unknown>,
            onLeaseRenewed: execution.holdsLeaseUntil,
          });
          // shape: lease mode, whose claim and lease writes cost far more
          return run.kind === 'executed' ? { ...run, waited } : run;
        }
        record = claim.record;
        // A store must acquire what it may replace: looping on its word would never end.
        if (round > 3 && isReplaceable(record, at(request))) {
          throw new StoreFailure('the store did not acquire a record it may replace');
        }
      }
    } catch (error) {
      if (isLayerFailure(error)) return { kind: 'failed', failure: error };
      throw error;
    }
  }

  /**
   * What a live record holding the key answers, or `undefined` while it is
   * in progress. The mismatch rule is here and nowhere else: a key first
   * used with another procedure or input answers 422, whatever its state
   * (a tombstone's too); the same input replays, or, past the response's
   * TTL, answers that the operation's outcome expired.
   */
  function resultOfRecord(
    request: IdempotentRequest,
    record: IdempotencyRecord,
    waited: boolean,
  ): Result | undefined {
    if (record.path !== request.path || record.fingerprint !== request.fingerprint) {
      return { kind: 'mismatch', firstPath: record.path };
    }
    if (record.state !== 'completed') return undefined;
    // Past its TTL the response is never replayed, and the operation never runs again.
    if (isTombstone(record, clock())) {
      return { kind: 'expired', completedAt: record.completedAt ?? record.createdAt, record };
    }
    return { kind: 'replayed', record, waited };
  }

  /**
   * The key is in progress in another execution (lease mode, or another
   * process): poll the store with backoff until it completes, is released or
   * its lease lapses, within the request's wait bound; else a conflict.
   */
  async function waitForOwner(
    request: IdempotentRequest,
    record: IdempotencyRecord,
  ): Promise<
    { kind: 'conflict'; retryAfterMs: number } | { kind: 'ended'; record?: IdempotencyRecord }
  > {
    let pollMs = POLL_FIRST_MS;
    for (let current: IdempotencyRecord | undefined = record; ; ) {
      const remaining = remainingWaitMs(opts, request);
      if (remaining <= 0) return { kind: 'conflict', retryAfterMs: retryHint(current) };
      await sleep(Math.min(pollMs, remaining));
      pollMs = Math.min(pollMs * 2, POLL_MAX_MS);
      const found = await find(request);
      if (!found || found.state === 'completed' || isReplaceable(found, at(request))) {
        return { kind: 'ended', record: found };
      }
      current = found;
    }
  }

  /** A duplicate of an execution running in this process: its answer, without a store round trip. */
  async function join(
    request: IdempotentRequest,
    running: Promise<StoredOutcome>,
  ): Promise<Result> {
    const waitMs = remainingWaitMs(opts, request);
    let outcome: StoredOutcome | undefined;
    try {
      outcome = waitMs > 0 ? await within(running, waitMs) : undefined;
    } catch (error) {
      return { kind: 'joinedFailed', error };
    }
    if (!outcome) return { kind: 'conflict', retryAfterMs: opts.inFlight.retryAfterMs };
    return { kind: 'joined', outcome };
  }

  /**
   * Turns what a request came to into its answer: emits its one event
   * (README.md#events), then returns the stored outcome to answer with or
   * throws the error the client gets. The layer's own failures become a 500
   * that says which and carries no SQL, parameters or owner token (the
   * store's error stays in `cause`, for the server's log).
   */
  function settle(request: IdempotentRequest, result: Result): Settlement {
    try {
      return settleResult(request, result);
    } catch (error) {
      // Every idempotency error tells the client the server's horizon (SPEC 7.10).
      if (error instanceof IdempotencyError) error.horizonMs ??= opts.horizonMs;
      throw error;
    }
  }

  function settleResult(request: IdempotentRequest, result: Result): Settlement {
    switch (result.kind) {
      case 'executed':
        event(request, 'executed', {
          outcome: result.outcome.kind,
          attempt: result.attempt,
          takenOver: result.takenOver,
          waitedMs: waitedMs(request, result.waited === true),
          stepsRun: result.stepsRun,
          stepsSkipped: result.stepsSkipped,
        });
        return { outcome: result.outcome, replayed: false };
      case 'replayed': {
        const outcome = result.record.outcome;
        if (!outcome) {
          const failure = new StoreFailure('a completed record has no outcome');
          return settle(request, { kind: 'failed', failure });
        }
        request.telemetry?.answeredFrom(result.record);
        event(request, 'replayed', {
          outcome: outcome.kind,
          waitedMs: waitedMs(request, result.waited),
        });
        return { outcome, replayed: true };
      }
      case 'expired':
        // It ran, long ago: its span links to that execution's, as a replay's does.
        request.telemetry?.answeredFrom(result.record);
        event(request, 'expired', { completedAt: result.completedAt });
        throw outcomeExpiredError({ completedAt: result.completedAt, horizonMs: opts.horizonMs });
      case 'joined':
        event(request, 'joined', { outcome: result.outcome.kind });
        return { outcome: result.outcome, replayed: true };
      case 'joinedFailed':
        event(request, 'joined', { outcome: 'none' });
        throw result.error;
      case 'conflict':
        event(request, 'conflict', { retryAfterMs: result.retryAfterMs });
        throw inProgressError({ retryAfterMs: result.retryAfterMs });
      case 'mismatch':
        event(request, 'mismatch', {});
        throw keyReusedError({ key: request.key, path: request.path, firstPath: result.firstPath });
      case 'released':
        event(request, 'released', { attempt: result.attempt });
        throw result.error;
      case 'fenced':
        // This execution lost its lease: the new owner's outcome is the one to get.
        event(request, 'fenced', { attempt: result.attempt });
        throw inProgressError({ retryAfterMs: opts.inFlight.retryAfterMs });
      case 'failed': {
        const { failure } = result;
        if (failure instanceof StoreFailure) {
          event(request, 'failed', { reason: 'IDEMPOTENCY_STORE_UNAVAILABLE' });
          throw storeUnavailableError({ cause: failure.cause ?? failure });
        }
        event(request, 'failed', { reason: 'IDEMPOTENCY_RESPONSE_NOT_STORABLE' });
        throw responseNotStorableError({ path: request.path, cause: failure.cause ?? failure });
      }
    }
  }

  /**
   * The value of a stored outcome (or its error, thrown). The first request
   * gets it decoded from storage too, not the value its handler returned:
   * so it sees exactly what every retry will replay (the transformer's round
   * trip turns a class instance into its fields, drops `undefined` fields),
   * an outcome that could not replay fails now rather than on the retry, a
   * commit that found the key answered elsewhere answers like the rest, and
   * each caller (joined duplicates too) gets its own fresh value to mutate.
   */
  function answer(settled: Settlement): ExecutionAnswer {
    try {
      return { value: opts.codec.replay(settled.outcome), replayed: settled.replayed };
    } catch (error) {
      if (settled.replayed && typeof error === 'object' && error !== null) {
        replayedErrors.add(error);
      }
      throw error;
    }
  }

  /**
   * The request's one event, to the handler and to the call's telemetry
   * (its span's outcome, its metrics); without either its object is never built.
   */
  function event<T extends IdempotencyEvent['type']>(
    request: IdempotentRequest,
    type: T,
    fields: Omit<Extract<IdempotencyEvent, { type: T }>, 'type' | 'scope' | 'path' | 'durationMs'>,
  ) {
    if (!opts.onEvent && !request.telemetry) return;
    const built = {
      type,
      ...fields,
      scope: request.scope,
      path: request.path,
      durationMs: performance.now() - request.arrivedAt,
    } as IdempotencyEvent;
    request.telemetry?.end(built);
    opts.onEvent?.(built);
  }

  /** The live record `request` looks for, through the store. */
  async function find(request: IdempotentRequest) {
    try {
      return await store.find({ scope: request.scope, key: request.key, now: clock() });
    } catch (cause) {
      throw asStoreFailure(cause);
    }
  }

  /** What `isReplaceable` needs of `request`, now. */
  function at(request: IdempotentRequest) {
    return { path: request.path, fingerprint: request.fingerprint, now: clock() };
  }

  /** When to retry a key in progress: when its lease ends, within [50 ms, `retryAfterMs`]. */
  function retryHint(record?: IdempotencyRecord) {
    const cap = opts.inFlight.retryAfterMs;
    if (!record) return cap;
    const leaseLeft = record.leaseExpiresAt - clock();
    return Math.round(Math.max(RETRY_AFTER_MIN_MS, Math.min(leaseLeft, cap)));
  }

  return { execute };
}

/** The engine of one idempotent builder, as `createEngine` makes it. */
export type Engine = ReturnType<typeof createEngine>;

/** How long `request` waited for another execution, for its event (0 if it did not). */
function waitedMs(request: IdempotentRequest, waited: boolean) {
  return waited ? performance.now() - request.arrivedAt : 0;
}

/** A new owner token: unique per execution, and says which process ran it. */
function nextOwner() {
  return `${processId}-${(++ownerSeq).toString(36)}`;
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
