import { getTRPCErrorFromUnknown } from '@trpc/server';
import type { CommitOptions, CommitResult } from '../store/store';
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
  const recordOf = (now: number): CommitOptions => ({
    scope: request.scope,
    key: request.key,
    path: request.path,
    fingerprint: request.fingerprint,
    owner,
    ...completionInstants(opts, now),
    maxWaitMs: remainingWaitMs(opts, request),
    traceContext: request.telemetry?.traceContext,
  });

  // What `commit` decided: once set, it is the result, whatever the handler does next.
  let decided: CommitResult<unknown> | undefined;
  let failure: LayerFailure | undefined;
  let committing: Promise<unknown> | undefined;

  const commit = async (write: (tx: unknown) => unknown) => {
    if (committing) throw new Error('commit() may be called only once per execution');
    const now = opts.clock();
    const attempt = (async () => {
      try {
        return await store.commit(
          recordOf(now),
          guardWrite(store.transactionKind, write),
          (result) => encodeForStorage(() => opts.codec.encodeResult(result)),
        );
      } catch (error) {
        if (error instanceof HandlerThrew) throw error.error;
        failure =
          error instanceof OutcomeNotStorable
            ? error
            : new StoreFailure('idempotency store commit failed', { cause: error });
        throw failure;
      }
    })();
    committing = attempt.catch(() => {});
    decided = await attempt;
    if (decided.status === 'committed') return decided.result;
    throw new KeyAnsweredElsewhere();
  };

  const handle: AnyTransactionalHandle = {
    ...handleOf(request, 1),
    commit: commit as AnyTransactionalHandle['commit'],
  };

  let value: unknown;
  let thrown: { error: unknown } | undefined;
  try {
    value = await run.handler(handle);
  } catch (error) {
    thrown = { error };
  }
  // A handler that did not await its commit still gets the commit's answer.
  await committing;
  if (decided) return resultOf(decided);
  if (failure) throw failure;
  let outcome: ReturnType<typeof opts.codec.encodeResult>;
  if (thrown) {
    // A final error is stored and replayed; anything else stores nothing (README.md#errors).
    if (!opts.isFinalError(thrown.error)) {
      return { kind: 'released', attempt: 1, error: thrown.error };
    }
    const error = getTRPCErrorFromUnknown(thrown.error);
    outcome = encodeForStorage(() => opts.codec.encodeError(error));
  } else {
    outcome = encodeForStorage(() => opts.codec.encodeResult(value));
  }
  return resultOf(
    await viaStore(() => store.insertCompleted({ ...recordOf(opts.clock()), outcome })),
  );
}

/** A transactional write's result: ours, or the record that held the key. */
function resultOf(stored: CommitResult<unknown>): TransactionalRunResult {
  switch (stored.status) {
    case 'committed':
      return {
        kind: 'executed',
        outcome: stored.outcome,
        attempt: 1,
        takenOver: false,
        stepsRun: [],
        stepsSkipped: [],
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
