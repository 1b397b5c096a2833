import { setTimeout as sleep } from 'node:timers/promises';
import { isReplaceable } from '../store/lifecycle';
import type { IdempotencyRecord, StoredOutcome } from '../store/record';
import { responseNotStorableError, storeUnavailableError } from './errors';
import {
  createExecutionContext,
  type ExecutionContext,
  type ExecutorOptions,
  OutcomeNotStorable,
  type Request,
  type Settlement,
  StoreFailure,
} from './execution';
import type { IdempotencyHandle, LeaseIdempotencyHandle } from './handle';
import { createInProcessRegistry } from './inProcess';
import { runLeased } from './leaseRun';
import { recordScope } from './recordScope';
import { runTransactional } from './transactionalRun';

export type { ExecutorOptions, InFlightOptions } from './execution';

/** One idempotent request, identified and fingerprinted. */
export interface IdempotentCall {
  /** The scope the builder's `scope` option returned. */
  scope: string;
  key: string;
  path: string;
  fingerprint: string;
}

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

const replayedErrors = new WeakSet<object>();

/** Whether `execute` threw `error` as the replay of a stored error outcome. */
export function isReplayedError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && replayedErrors.has(error);
}

const POLL_FIRST_MS = 10;
const POLL_MAX_MS = 250;

/**
 * The idempotency state machine, written once above any store, as one
 * straight line per request: join a running duplicate in this process, or
 * look the key up, then run the handler (transactional or lease mode), then
 * answer with the stored outcome.
 * @see ../../../../docs/ARCHITECTURE.md
 */
export function createExecutor(opts: ExecutorOptions) {
  const context = createExecutionContext(opts);
  const running = createInProcessRegistry(opts.store, opts.clock);

  /** Run `handler` at most once for `call`'s key, answering every duplicate identically. */
  async function execute(
    call: IdempotentCall,
    handler: (handle: IdempotencyHandle) => Promise<unknown>,
  ): Promise<ExecutionAnswer> {
    const request: Request = {
      scope: recordScope(call.scope),
      callerScope: call.scope,
      key: call.key,
      path: call.path,
      fingerprint: call.fingerprint,
      arrivedAt: performance.now(),
      waited: false,
    };

    const joined = running.find(request);
    if (joined) return join(request, joined);

    const execution = running.start(request);
    let settled: Settlement;
    try {
      settled = await settle(request, handler);
    } catch (error) {
      const answer = answerOfFailure(context, request, error);
      execution.fail(answer);
      throw answer;
    } finally {
      execution.end();
    }
    execution.succeed(settled.outcome);
    return answer(settled.outcome, settled.replayed);
  }

  /** The value of a stored outcome (or its error, thrown), and whether it is a replay. */
  function answer(outcome: StoredOutcome, replayed: boolean): ExecutionAnswer {
    try {
      return { value: opts.codec.replay(outcome), replayed };
    } catch (error) {
      if (replayed && typeof error === 'object' && error !== null) replayedErrors.add(error);
      throw error;
    }
  }

  /** Look the key up, then answer from the record, wait for its owner, or run the handler. */
  async function settle(
    request: Request,
    handler: (handle: IdempotencyHandle) => Promise<unknown>,
  ): Promise<Settlement> {
    // A read first, where a claim or commit is a write: a completed record is
    // immutable until it expires, so a retry is answered without a write lock.
    let record = await context.find(request);
    for (let round = 1; ; round++) {
      if (record && !isReplaceable(record, { ...request, now: opts.clock() })) {
        if (record.path !== request.path || record.fingerprint !== request.fingerprint) {
          throw context.mismatch(request, record);
        }
        if (record.state === 'completed') return context.replay(request, record);
        record = await waitForOwner(request, record);
        continue;
      }
      if (opts.mode === 'transactional') {
        return runTransactional(context, request, handler);
      }
      const now = opts.clock();
      const leaseExpiresAt = now + opts.leaseMs;
      const claim = await context.viaStore(() =>
        opts.store.claim({
          scope: request.scope,
          key: request.key,
          path: request.path,
          fingerprint: request.fingerprint,
          owner: context.nextOwner(),
          now,
          leaseExpiresAt,
          expiresAt: leaseExpiresAt + opts.ttlMs,
        }),
      );
      if (claim.acquired) {
        return runLeased(
          context,
          request,
          claim,
          handler as (h: LeaseIdempotencyHandle) => Promise<unknown>,
        );
      }
      record = claim.record;
      // A store must acquire what it may replace: looping on its word would never end.
      if (round > 3 && isReplaceable(record, { ...request, now: opts.clock() })) {
        throw new StoreFailure('the store did not acquire a record it may replace');
      }
    }
  }

  /**
   * The key is in progress in another execution (lease mode, or another
   * process): poll the store with backoff until it completes, is released or
   * its lease lapses, within the request's wait bound; else 409.
   */
  async function waitForOwner(request: Request, record: IdempotencyRecord) {
    let pollMs = POLL_FIRST_MS;
    for (let current: IdempotencyRecord | undefined = record; ; ) {
      const remaining = context.remainingWaitMs(request);
      if (remaining <= 0) throw context.conflict(request, context.retryHint(current));
      request.waited = true;
      await sleep(Math.min(pollMs, remaining));
      pollMs = Math.min(pollMs * 2, POLL_MAX_MS);
      const found = await context.find(request);
      if (
        !found ||
        found.state === 'completed' ||
        isReplaceable(found, { ...request, now: opts.clock() })
      ) {
        return found;
      }
      current = found;
    }
  }

  /** A duplicate of an execution running in this process: its answer, without a store round trip. */
  async function join(
    request: Request,
    joined: { outcome: Promise<StoredOutcome> },
  ): Promise<ExecutionAnswer> {
    const waitMs = context.remainingWaitMs(request);
    let outcome: StoredOutcome | undefined;
    try {
      outcome = waitMs > 0 ? await within(joined.outcome, waitMs) : undefined;
    } catch (error) {
      context.event(request, 'joined', { outcome: 'none' });
      throw error;
    }
    if (!outcome) throw context.conflict(request, opts.inFlight.retryAfterMs);
    context.event(request, 'joined', { outcome: outcome.kind });
    return answer(outcome, true);
  }

  return { execute };
}

/**
 * The error a failed request answers with. The layer's own failures become
 * a 500 that says which (and carries no SQL, parameters or owner token: the
 * store's error stays in `cause`, for the server's log), with their event.
 */
function answerOfFailure(context: ExecutionContext, request: Request, error: unknown): unknown {
  if (error instanceof StoreFailure) {
    context.event(request, 'failed', { reason: 'IDEMPOTENCY_STORE_UNAVAILABLE' });
    return storeUnavailableError({ cause: error.cause ?? error });
  }
  if (error instanceof OutcomeNotStorable) {
    context.event(request, 'failed', { reason: 'IDEMPOTENCY_RESPONSE_NOT_STORABLE' });
    return responseNotStorableError({ path: request.path, cause: error.cause ?? error });
  }
  return error;
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
