import { getTRPCErrorFromUnknown } from '@trpc/server';
import type { StoredOutcome } from '../store/record';
import type { CommitOptions, CommitResult, InsertCompletedOptions } from '../store/store';
import type { TransactionalIdempotencyHandle } from './handle';
import {
  completionInstants,
  type EngineOptions,
  handleOf,
  type IdempotentRequest,
  remainingWaitMs,
  type TransactionalRunResult,
} from './run';
import {
  encodeForStorage,
  HandlerThrew,
  KeyAnsweredElsewhere,
  type LayerFailure,
  OutcomeNotStorable,
  StoreFailure,
  viaStore,
} from './signals';

// biome-ignore lint/suspicious/noExplicitAny: the store's transaction type is the builder's business
type AnyTransactionalHandle = TransactionalIdempotencyHandle<any, 'sync' | 'async'>;

/**
 * A transactional first execution: nothing is written before the handler's
 * `commit`, which stores its writes and the completed record in one
 * transaction. A final error, or a result returned without `commit`, is
 * stored with one insert-if-absent. Whatever the store finds holding the key
 * at that point (completed elsewhere first) is returned as `held`.
 */
export async function runTransactional(
  opts: EngineOptions,
  run: {
    request: IdempotentRequest;
    owner: string;
    handler: (handle: AnyTransactionalHandle) => Promise<unknown>;
  },
): Promise<TransactionalRunResult> {
  const { store } = opts;
  const { request, owner } = run;
  // The outcome is set only for `insertCompleted`, declared always: one object shape (recordRow.ts).
  const recordOf = (
    now: number,
    outcome?: StoredOutcome,
  ): CommitOptions & { outcome?: StoredOutcome } => {
    const { responseExpiresAt, expiresAt } = completionInstants(opts, now);
    return {
      scope: request.scope,
      key: request.key,
      path: request.path,
      fingerprint: request.fingerprint,
      owner,
      now,
      responseExpiresAt,
      expiresAt,
      maxWaitMs: remainingWaitMs(opts, request),
      traceContext: request.telemetry?.traceContext,
      outcome,
    };
  };

  // What `commit` decided: once set, it is the result, whatever the handler does next.
  let decided: CommitResult<unknown> | undefined;
  let failure: LayerFailure | undefined;
  // The commit, while it runs: a handler that did not await it still gets its answer.
  let committing: Promise<unknown> | undefined;
  let called = false;

  /** The store's transaction with the handler's write: its result, or why there is none. */
  const commitOnce = async (write: (tx: unknown) => unknown) => {
    try {
      decided = await store.commit(
        recordOf(opts.clock()),
        guardWrite(store.transactionKind, write),
        (result) => encodeForStorage(opts.codec.encodeResult, result),
      );
    } catch (error) {
      if (error instanceof HandlerThrew) throw error.error;
      failure =
        error instanceof OutcomeNotStorable
          ? error
          : new StoreFailure('idempotency store commit failed', { cause: error });
      throw failure;
    } finally {
      committing = undefined;
    }
    if (decided.status === 'committed') return decided.result;
    throw new KeyAnsweredElsewhere();
  };

  const commit = (write: (tx: unknown) => unknown): Promise<unknown> => {
    if (called) return Promise.reject(new Error('commit() may be called only once per execution'));
    called = true;
    const attempt = commitOnce(write);
    committing = attempt.then(ignore, ignore);
    return attempt;
  };

  const handle = handleOf(request, 1, {
    commit: commit as AnyTransactionalHandle['commit'],
  }) as AnyTransactionalHandle;

  let value: unknown;
  let thrown: { error: unknown } | undefined;
  try {
    value = await run.handler(handle);
  } catch (error) {
    thrown = { error };
  }
  // A handler that did not await its commit still gets the commit's answer.
  if (committing) await committing;
  if (decided) return resultOf(decided);
  if (failure) throw failure;
  let outcome: ReturnType<typeof opts.codec.encodeResult>;
  if (thrown) {
    // A final error is stored and replayed; anything else stores nothing (README.md#errors).
    if (!opts.isFinalError(thrown.error)) {
      return { kind: 'released', attempt: 1, error: thrown.error };
    }
    outcome = encodeForStorage(opts.codec.encodeError, getTRPCErrorFromUnknown(thrown.error));
  } else {
    outcome = encodeForStorage(opts.codec.encodeResult, value);
  }
  const record = recordOf(opts.clock(), outcome) as InsertCompletedOptions;
  return resultOf(await viaStore(() => store.insertCompleted(record)));
}

const NO_STEPS: readonly string[] = Object.freeze([]);
const ignore = () => {};

/** A transactional write's result: ours, or the record that held the key. */
function resultOf(stored: CommitResult<unknown>): TransactionalRunResult {
  switch (stored.status) {
    case 'committed':
      return {
        kind: 'executed',
        outcome: stored.outcome,
        attempt: 1,
        takenOver: false,
        stepsRun: NO_STEPS,
        stepsSkipped: NO_STEPS,
      };
    case 'found':
      return { kind: 'held', record: stored.record };
    case 'busy':
      return { kind: 'busy' };
  }
}

/**
 * The handler's `write`, so that its own throws are told apart from the
 * store's after the rollback. A sync store gets a sync callback that refuses
 * a promise (the transaction would commit before it settled).
 */
function guardWrite(kind: 'sync' | 'async', write: (tx: unknown) => unknown) {
  if (kind === 'async') {
    return async (tx: unknown) => {
      try {
        return await write(tx);
      } catch (error) {
        throw new HandlerThrew(error);
      }
    };
  }
  return (tx: unknown) => {
    let result: unknown;
    try {
      result = write(tx);
    } catch (error) {
      throw new HandlerThrew(error);
    }
    if (isThenable(result)) {
      // Nobody awaits it once the transaction rolls back: keep its rejection from going unhandled.
      Promise.resolve(result).catch(() => {});
      throw new HandlerThrew(
        new TypeError(
          'the commit() callback returned a promise: it runs inside a synchronous transaction, so do async work before calling commit()',
        ),
      );
    }
    return result;
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
