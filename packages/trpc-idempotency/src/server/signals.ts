/**
 * The engine's signals: the errors it throws to itself between a store call
 * or a handler and the one place that answers (`engine.ts`, `settle`). None
 * of them reaches a client: `settle` turns each into its documented answer.
 * One reaches user code on the way, {@link KeyAnsweredElsewhere}: a
 * transactional handler's `commit()` rejects with it.
 * @see ../../../../docs/ARCHITECTURE.md
 */

/**
 * Why `ctx.idempotency.commit()` rejected without running its write: another
 * request (another process) completed this idempotency key first, so its
 * stored outcome answers this request, whatever the handler does with this
 * error. Let it propagate (or rethrow it); a handler that catches it and
 * returns something else still answers with the stored outcome.
 * @see README.md#the-handler
 */
export class KeyAnsweredElsewhere extends Error {
  override readonly name = 'KeyAnsweredElsewhere';
  constructor() {
    super('another request completed this idempotency key first; its stored outcome answers');
  }
}

/**
 * Raised inside a store transaction by the handler's own `write`, so the
 * store's rollback lets it through and it is told apart from the store's
 * own failures; unwrapped after the rollback and handed back to the handler.
 */
export class HandlerThrew {
  constructor(readonly error: unknown) {}
}

/** The outcome (or a step's result) cannot be stored: the request fails loudly with a 500. */
export class OutcomeNotStorable extends Error {
  override readonly name = 'OutcomeNotStorable';
}

/** A store call failed: the request fails with a 500 that carries no store detail. */
export class StoreFailure extends Error {
  override readonly name = 'StoreFailure';
}

/** The engine's own failures: `settle` answers them with a 500 and a `failed` event. */
export type LayerFailure = StoreFailure | OutcomeNotStorable;

export function isLayerFailure(error: unknown): error is LayerFailure {
  return error instanceof StoreFailure || error instanceof OutcomeNotStorable;
}

/** `encode(value)` for storage; a value that cannot be stored is a loud {@link OutcomeNotStorable}. */
export function encodeForStorage<V, T>(encode: (value: V) => T, value: V): T {
  try {
    return encode(value);
  } catch (cause) {
    throw new OutcomeNotStorable(cause instanceof Error ? cause.message : String(cause), {
      cause,
    });
  }
}

/** Awaits a store call; any failure becomes a {@link StoreFailure}. */
export async function viaStore<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (cause) {
    throw asStoreFailure(cause);
  }
}

/** A store call's failure as the {@link StoreFailure} the engine answers with. */
export function asStoreFailure(cause: unknown): StoreFailure {
  return cause instanceof StoreFailure
    ? cause
    : new StoreFailure('idempotency store call failed', { cause });
}
