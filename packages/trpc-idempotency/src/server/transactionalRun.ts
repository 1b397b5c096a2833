import { getTRPCErrorFromUnknown } from '@trpc/server';
import type { CommitOptions, CommitResult } from '../store/store';
import {
  type ExecutionContext,
  encodeForStorage,
  HandlerThrew,
  KeyAnsweredElsewhere,
  OutcomeNotStorable,
  type Request,
  type Settlement,
  StoreFailure,
} from './execution';
import type { TransactionalIdempotencyHandle } from './handle';

// biome-ignore lint/suspicious/noExplicitAny: the store's transaction type is the builder's business
type AnyTransactionalHandle = TransactionalIdempotencyHandle<any, 'sync' | 'async'>;

/**
 * A transactional first execution: nothing is written before the handler's
 * `commit`, which stores its writes and the completed record in one
 * transaction. A final error, or a result returned without `commit`, is
 * stored with one insert-if-absent. Whatever the store finds holding the key
 * at that point (completed elsewhere first) answers instead.
 */
export async function runTransactional(
  context: ExecutionContext,
  request: Request,
  handler: (handle: AnyTransactionalHandle) => Promise<unknown>,
): Promise<Settlement> {
  const { opts, store } = context;
  const owner = context.nextOwner();
  const recordOf = (now: number): CommitOptions => ({
    scope: request.scope,
    key: request.key,
    path: request.path,
    fingerprint: request.fingerprint,
    owner,
    now,
    expiresAt: now + opts.ttlMs,
    maxWaitMs: context.remainingWaitMs(request),
  });

  // What `commit` decided: once set, it is the answer, whatever the handler does next.
  let decided: CommitResult<unknown> | undefined;
  let failure: StoreFailure | OutcomeNotStorable | undefined;
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
    key: request.key,
    scope: request.callerScope,
    attempt: 1,
    downstreamKey: (name) => context.downstreamKey(request, name),
    commit: commit as AnyTransactionalHandle['commit'],
  };

  let value: unknown;
  let thrown: { error: unknown } | undefined;
  try {
    value = await handler(handle);
  } catch (error) {
    thrown = { error };
  }
  // A handler that did not await its commit still gets the commit's answer.
  await committing;
  if (decided) return settleStored(context, request, decided);
  if (failure) throw failure;
  if (thrown) return settleFailure(context, request, thrown.error, recordOf);

  const outcome = encodeForStorage(() => opts.codec.encodeResult(value));
  const stored = await context.viaStore(() =>
    store.insertCompleted({ ...recordOf(opts.clock()), outcome }),
  );
  return settleStored(context, request, stored);
}

/** A final error is stored and replayed; anything else stores nothing (README.md#errors). */
async function settleFailure(
  context: ExecutionContext,
  request: Request,
  error: unknown,
  recordOf: (now: number) => CommitOptions,
): Promise<Settlement> {
  const { opts, store } = context;
  if (!opts.isFinalError(error)) {
    context.event(request, 'released', { attempt: 1 });
    throw error;
  }
  const outcome = encodeForStorage(() => opts.codec.encodeError(getTRPCErrorFromUnknown(error)));
  const stored = await context.viaStore(() =>
    store.insertCompleted({ ...recordOf(opts.clock()), outcome }),
  );
  return settleStored(context, request, stored);
}

/** The answer of a transactional write: ours, or that of the record that held the key. */
function settleStored(
  context: ExecutionContext,
  request: Request,
  result: CommitResult<unknown>,
): Settlement {
  switch (result.status) {
    case 'committed':
      return context.executed(request, result.outcome, { attempt: 1, takenOver: false });
    case 'found':
      request.waited = true;
      // Completed elsewhere first: replayed exactly as a later retry would be.
      if (result.record.state === 'completed') return context.replay(request, result.record);
      if (
        result.record.path !== request.path ||
        result.record.fingerprint !== request.fingerprint
      ) {
        throw context.mismatch(request, result.record);
      }
      throw context.conflict(request, context.retryHint(result.record));
    case 'busy':
      throw context.conflict(request, context.retryHint());
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
