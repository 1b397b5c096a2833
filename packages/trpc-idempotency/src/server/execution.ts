import { createHash, randomUUID } from 'node:crypto';
import type { IdempotencyRecord, RecordIdentity, StoredOutcome } from '../store/record';
import type { AnyIdempotencyStore } from '../store/store';
import { inProgressError, keyReusedError } from './errors';
import type { IdempotencyEvent, IdempotencyEventHandler } from './events';
import type { OutcomeCodec } from './outcome';

/**
 * What a request does when its key is in progress elsewhere.
 * @see README.md#options
 */
export interface InFlightOptions {
  /** `wait` (default): wait for the running execution, up to `timeoutMs`; `reject`: CONFLICT at once. */
  policy?: 'wait' | 'reject';
  /** Longest wait for another execution, in ms. Default 5000. */
  timeoutMs?: number;
  /** Upper bound of the `retryAfterMs` hint in a CONFLICT, in ms. Default 1000. */
  retryAfterMs?: number;
}

/** Everything the state machine needs, resolved from the builder's options. */
export interface ExecutorOptions {
  store: AnyIdempotencyStore;
  mode: 'transactional' | 'lease';
  codec: OutcomeCodec;
  clock: () => number;
  ttlMs: number;
  leaseMs: number;
  inFlight: Required<InFlightOptions>;
  isFinalError: (error: unknown) => boolean;
  onEvent: IdempotencyEventHandler | undefined;
}

/** One request on its way through the executor. */
export interface Request extends RecordIdentity {
  /** The scope the `scope` option returned (`scope` is the one records store). */
  callerScope: string;
  arrivedAt: number;
  /** Set once the request waited for another execution. */
  waited: boolean;
  /** Lease mode, once claimed: until when this execution owns its record (kept current on renewal). */
  leaseExpiresAt?: number;
}

/** How a request was answered with a stored outcome. */
export interface Settlement {
  outcome: StoredOutcome;
  /** Answered without running the handler in this request. */
  replayed: boolean;
}

/** Raised inside a store transaction by the handler's own code; unwrapped after the rollback. */
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

/**
 * Thrown out of `commit()` when the key turned out to be held: the write did
 * not run, and the stored outcome answers the request, whatever the handler
 * does with this error.
 */
export class KeyAnsweredElsewhere extends Error {
  override readonly name = 'KeyAnsweredElsewhere';
  constructor() {
    super('another request completed this idempotency key first; its stored outcome answers');
  }
}

/** Encodes for storage; a value that cannot be stored is a loud {@link OutcomeNotStorable}. */
export function encodeForStorage<T extends StoredOutcome | string | null>(encode: () => T): T {
  try {
    return encode();
  } catch (cause) {
    throw new OutcomeNotStorable(cause instanceof Error ? cause.message : String(cause), {
      cause,
    });
  }
}

const processId = randomUUID().slice(0, 8);
let ownerSeq = 0;

const RETRY_AFTER_MIN_MS = 50;

/**
 * The pieces every part of the executor shares: the options, store calls that
 * turn failures into {@link StoreFailure}, and the answers that emit the
 * request's one event.
 */
export function createExecutionContext(opts: ExecutorOptions) {
  // Called as `emit?.(…)`: without a handler the event object is never even built.
  const emit = opts.onEvent;
  const base = (request: Request) => ({
    scope: request.scope,
    path: request.path,
    durationMs: performance.now() - request.arrivedAt,
  });
  const event = <T extends IdempotencyEvent['type']>(
    request: Request,
    type: T,
    fields: Omit<Extract<IdempotencyEvent, { type: T }>, 'type' | 'scope' | 'path' | 'durationMs'>,
  ) => emit?.({ type, ...fields, ...base(request) } as IdempotencyEvent);

  /** Awaits a store call; any failure becomes a {@link StoreFailure}. */
  async function viaStore<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (cause) {
      throw cause instanceof StoreFailure
        ? cause
        : new StoreFailure('idempotency store call failed', { cause });
    }
  }

  const waitedMs = (request: Request) =>
    request.waited ? performance.now() - request.arrivedAt : 0;

  return {
    opts,
    store: opts.store,
    event,
    viaStore,
    nextOwner: () => `${processId}-${(++ownerSeq).toString(36)}`,
    /** The live record `request` looks for, through the store. */
    find: (request: Request) =>
      viaStore(() =>
        opts.store.find({ scope: request.scope, key: request.key, now: opts.clock() }),
      ),
    /** How long this request may still wait for another execution, in ms. */
    remainingWaitMs(request: Request) {
      if (opts.inFlight.policy === 'reject') return 0;
      return Math.max(0, opts.inFlight.timeoutMs - (performance.now() - request.arrivedAt));
    },
    retryHint(record?: IdempotencyRecord) {
      const cap = opts.inFlight.retryAfterMs;
      if (!record) return cap;
      const leaseLeft = record.leaseExpiresAt - opts.clock();
      return Math.round(Math.max(RETRY_AFTER_MIN_MS, Math.min(leaseLeft, cap)));
    },
    downstreamKey(request: Request, name: string) {
      return createHash('sha256')
        .update(`${request.callerScope}\u0000${request.key}\u0000${name}`)
        .digest('base64url');
    },
    /** Answer: the stored outcome of a completed record (or a 422 if it was stored for other input). */
    replay(request: Request, record: IdempotencyRecord): Settlement {
      if (record.path !== request.path || record.fingerprint !== request.fingerprint) {
        throw this.mismatch(request, record);
      }
      if (!record.outcome) throw new StoreFailure('a completed record has no outcome');
      event(request, 'replayed', { outcome: record.outcome.kind, waitedMs: waitedMs(request) });
      return { outcome: record.outcome, replayed: true };
    },
    /** Answer: this request's execution stored `outcome`. */
    executed(
      request: Request,
      outcome: StoredOutcome,
      run: {
        attempt: number;
        takenOver: boolean;
        stepsRun?: readonly string[];
        stepsSkipped?: readonly string[];
      },
    ): Settlement {
      event(request, 'executed', {
        outcome: outcome.kind,
        attempt: run.attempt,
        takenOver: run.takenOver,
        waitedMs: waitedMs(request),
        stepsRun: run.stepsRun ?? [],
        stepsSkipped: run.stepsSkipped ?? [],
      });
      return { outcome, replayed: false };
    },
    /** Answer: 422, the key was first used with another procedure or input. */
    mismatch(request: Request, record: Pick<IdempotencyRecord, 'path'>) {
      event(request, 'mismatch', {});
      return keyReusedError({ key: request.key, path: request.path, firstPath: record.path });
    },
    /** Answer: 409, this execution lost its lease; the new owner's outcome is the one to get. */
    fenced(request: Request, attempt: number) {
      event(request, 'fenced', { attempt });
      return inProgressError({ retryAfterMs: opts.inFlight.retryAfterMs });
    },
    /** Answer: 409, the key is still in progress; retry after `retryAfterMs`. */
    conflict(request: Request, retryAfterMs: number) {
      event(request, 'conflict', { retryAfterMs });
      return inProgressError({ retryAfterMs });
    },
  };
}

/** The shared context of one executor. */
export type ExecutionContext = ReturnType<typeof createExecutionContext>;
